/**
 * Signing the new account in with its password. Errors show at the field they are about: a server that cannot be
 * found from the account's name opens the homeserver field, with the error under it.
 */
import React, { useState } from "react";
import { Form, InlineSpinner } from "@vector-im/compound-web";

import type { Translate } from "../i18n/index.ts";
import { ErrorDetail, ErrorNotice, errorText } from "./ErrorNotice.tsx";
import type { RuntimeError } from "./runtime.ts";
import { SecretInput } from "./SecretInput.tsx";

export interface PasswordSignInProps {
    t: Translate;
    initialNewUserId?: string;
    /** Continuing an interrupted migration: the account is the journal's. */
    lockedNewUserId: boolean;
    busy: boolean;
    error?: RuntimeError;
    onSubmit(input: { newUserId: string; homeserverUrl?: string; password: string }): void;
}

/** Which field an error code is about (sign-in codes from src/sessions/signIn.ts). */
const FIELD_OF: Record<string, "newUserId" | "password" | "homeserverUrl"> = {
    "bad-user-id": "newUserId",
    "same-account": "newUserId",
    "server-not-allowed": "newUserId",
    "wrong-account": "newUserId",
    "wrong-password": "password",
    "deactivated": "password",
    "rate-limited": "password",
    "no-well-known": "homeserverUrl",
    "unreachable": "homeserverUrl",
    "not-a-homeserver": "homeserverUrl",
};

export function PasswordSignIn({ t, initialNewUserId, lockedNewUserId, busy, error, onSubmit }: PasswordSignInProps): React.JSX.Element {
    const [newUserId, setNewUserId] = useState(initialNewUserId ?? "");
    const [password, setPassword] = useState("");
    const [homeserverUrl, setHomeserverUrl] = useState("");
    const field = error ? FIELD_OF[error.code] : undefined;
    const askHomeserver = field === "homeserverUrl" || homeserverUrl !== "";
    const fieldError = (name: string) =>
        field === name && error ? (
            <>
                {errorText(t, error)} <ErrorDetail t={t} error={error} />
            </>
        ) : undefined;
    return (
        <Form.Root
            className="mx_AccountMigration_stack"
            onSubmit={(e) => {
                e.preventDefault();
                onSubmit({ newUserId: newUserId.trim(), password, homeserverUrl: homeserverUrl.trim() || undefined });
            }}
        >
            <Form.Field name="newUserId" serverInvalid={field === "newUserId"}>
                <Form.Label>{t("signin|new_user")}</Form.Label>
                <Form.TextControl
                    value={newUserId}
                    readOnly={lockedNewUserId}
                    onChange={(e: React.ChangeEvent<HTMLInputElement>) => setNewUserId(e.currentTarget.value)}
                    autoComplete="off"
                    spellCheck={false}
                    required
                />
                {fieldError("newUserId") ? <Form.ErrorMessage>{fieldError("newUserId")}</Form.ErrorMessage> : <Form.HelpMessage>{t("signin|new_user_help")}</Form.HelpMessage>}
            </Form.Field>
            <SecretInput
                t={t}
                name="newPassword"
                label={t("signin|password")}
                value={password}
                onChange={setPassword}
                autoComplete="new-password"
                invalid={field === "password"}
                help={field === "password" ? undefined : t("signin|password_note")}
                error={fieldError("password")}
            />
            {askHomeserver && (
                <Form.Field name="homeserverUrl" serverInvalid={field === "homeserverUrl"}>
                    <Form.Label>{t("signin|homeserver")}</Form.Label>
                    <Form.TextControl
                        type="url"
                        value={homeserverUrl}
                        onChange={(e: React.ChangeEvent<HTMLInputElement>) => setHomeserverUrl(e.currentTarget.value)}
                        placeholder={t("signin|homeserver_placeholder")}
                    />
                    {fieldError("homeserverUrl") ? <Form.ErrorMessage>{fieldError("homeserverUrl")}</Form.ErrorMessage> : <Form.HelpMessage>{t("signin|homeserver_help")}</Form.HelpMessage>}
                </Form.Field>
            )}
            {error && !field && <ErrorNotice t={t} error={error} />}
            <Form.Submit disabled={busy || !newUserId.trim() || !password}>
                {busy && <InlineSpinner />}
                {busy ? t("signin|busy") : t("signin|submit")}
            </Form.Submit>
        </Form.Root>
    );
}
