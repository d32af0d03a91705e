/**
 * A form that asks for one secret (a password, an access token) and hands it on only with its submit. The field is
 * emptied right then, so a secret used once does not stay in the page's state. Sign-in by password, sign-in by access
 * token and the recovery set-up's approval all ask this way; this is the one place that keeps the secret.
 */
import React, { useState } from "react";
import { Form } from "@vector-im/compound-web";

import type { Translate } from "../i18n/index.ts";
import type { RuntimeError } from "./runtime.ts";
import { SecretInput } from "./SecretInput.tsx";

export interface SecretFormProps {
    t: Translate;
    name: string;
    label: string;
    submitLabel: React.ReactNode;
    onSubmit(secret: string): void;
    busy?: boolean;
    help?: React.ReactNode;
    error?: RuntimeError;
    submitKind?: "primary" | "secondary";
    /** Surrounding whitespace is no part of the secret (tokens); a password is taken as typed. */
    trim?: boolean;
    /** Shown above the field. */
    intro?: React.ReactNode;
    /** Further actions beside the submit (e.g. cancel). */
    actions?: React.ReactNode;
}

export function SecretForm({
    t,
    name,
    label,
    submitLabel,
    onSubmit,
    busy = false,
    help,
    error,
    submitKind = "primary",
    trim = false,
    intro,
    actions,
}: SecretFormProps): React.JSX.Element {
    const [value, setValue] = useState("");
    const secret = trim ? value.trim() : value;
    return (
        <Form.Root
            className="mx_AccountMigration_stack"
            onSubmit={(e) => {
                e.preventDefault();
                // Compound's disabled submit is only aria-disabled: the form can still be sent.
                if (busy || !secret) return;
                onSubmit(secret);
                setValue("");
            }}
        >
            {intro}
            <SecretInput t={t} name={name} label={label} value={value} onChange={setValue} help={help} error={error} />
            <div className={actions ? "mx_AccountMigration_row" : undefined}>
                <Form.Submit kind={submitKind} size="md" disabled={busy || !secret}>
                    {submitLabel}
                </Form.Submit>
                {actions}
            </div>
        </Form.Root>
    );
}
