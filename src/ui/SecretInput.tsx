/**
 * A password field for secrets (passwords, access tokens, recovery keys, passphrases) with a show/hide action.
 * Compound's own PasswordInput labels that action in English only, so this wires Compound's ActionInput with
 * translated labels.
 */
import React, { useState } from "react";
import { Form } from "@vector-im/compound-web";
import VisibilityOnIcon from "@vector-im/compound-design-tokens/assets/web/icons/visibility-on";
import VisibilityOffIcon from "@vector-im/compound-design-tokens/assets/web/icons/visibility-off";

import type { Translate } from "../i18n/index.ts";
import { FieldErrorMessage } from "./ErrorNotice.tsx";
import type { RuntimeError } from "./runtime.ts";

export interface SecretInputProps {
    t: Translate;
    name: string;
    label: string;
    value: string;
    onChange(value: string): void;
    autoComplete?: string;
    disabled?: boolean;
    help?: React.ReactNode;
    /** An error about this field: shown under it instead of the help, and the field marked invalid. */
    error?: RuntimeError;
}

export function SecretInput({
    t,
    name,
    label,
    value,
    onChange,
    autoComplete = "off",
    disabled,
    help,
    error,
}: SecretInputProps): React.JSX.Element {
    const [shown, setShown] = useState(false);
    return (
        <Form.Field name={name} serverInvalid={!!error}>
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
            {error ? <FieldErrorMessage t={t} error={error} /> : help && <Form.HelpMessage>{help}</Form.HelpMessage>}
        </Form.Field>
    );
}
