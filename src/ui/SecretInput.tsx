/**
 * A password field for secrets (passwords, recovery keys, passphrases) with a show/hide action. Compound's own
 * PasswordInput labels that action in English only, so this wires Compound's ActionInput with translated labels.
 */
import React, { useState } from "react";
import { Form } from "@vector-im/compound-web";
import VisibilityOnIcon from "@vector-im/compound-design-tokens/assets/web/icons/visibility-on";
import VisibilityOffIcon from "@vector-im/compound-design-tokens/assets/web/icons/visibility-off";

import type { Translate } from "../i18n/index.ts";

export interface SecretInputProps {
    t: Translate;
    name: string;
    label: string;
    value: string;
    onChange(value: string): void;
    autoComplete?: string;
    disabled?: boolean;
    help?: React.ReactNode;
    error?: React.ReactNode;
    invalid?: boolean;
}

export function SecretInput({ t, name, label, value, onChange, autoComplete = "off", disabled, help, error, invalid }: SecretInputProps): React.JSX.Element {
    const [shown, setShown] = useState(false);
    return (
        <Form.Field name={name} serverInvalid={invalid}>
            <Form.Label>{label}</Form.Label>
            <Form.ActionControl
                type={shown ? "text" : "password"}
                value={value}
                disabled={disabled}
                autoComplete={autoComplete}
                spellCheck={false}
                onChange={(e: React.ChangeEvent<HTMLInputElement>) => onChange(e.currentTarget.value)}
                Icon={shown ? VisibilityOnIcon : VisibilityOffIcon}
                actionLabel={shown ? t("secret|hide") : t("secret|show")}
                onActionClick={() => setShown((s) => !s)}
            />
            {help && <Form.HelpMessage>{help}</Form.HelpMessage>}
            {error && <Form.ErrorMessage>{error}</Form.ErrorMessage>}
        </Form.Field>
    );
}
