/** Step 1: the new account's id and password (and its homeserver address when it cannot be discovered). */
import React, { useState } from "react";

import type { Translate } from "../i18n/index.ts";
import type { NewAccountSignInInput, RuntimeError } from "./runtime.ts";
import { ErrorNotice } from "./ErrorNotice.tsx";

export interface SignInStepProps {
    t: Translate;
    initialNewUserId?: string;
    busy: boolean;
    error?: RuntimeError;
    onSubmit(input: NewAccountSignInInput): void;
}

export function SignInStep({ t, initialNewUserId, busy, error, onSubmit }: SignInStepProps): React.JSX.Element {
    const [newUserId, setNewUserId] = useState(initialNewUserId ?? "");
    const [password, setPassword] = useState("");
    const [homeserverUrl, setHomeserverUrl] = useState("");
    const askHomeserver = error?.code === "no-well-known" || homeserverUrl !== "";
    return (
        <form
            className="mx_AccountMigration_signIn"
            onSubmit={(e) => {
                e.preventDefault();
                onSubmit({ newUserId, password, homeserverUrl: homeserverUrl.trim() || undefined });
            }}
        >
            <h2>{t("signin|heading")}</h2>
            <label>
                {t("signin|new_user")}
                <input name="newUserId" value={newUserId} onChange={(e) => setNewUserId(e.target.value)} autoComplete="off" required />
            </label>
            <label>
                {t("signin|password")}
                <input name="newPassword" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" required />
            </label>
            {askHomeserver && (
                <label>
                    {t("signin|homeserver")}
                    <input name="homeserverUrl" value={homeserverUrl} onChange={(e) => setHomeserverUrl(e.target.value)} placeholder="https://matrix.example.org" />
                </label>
            )}
            <p className="mx_AccountMigration_note">{t("signin|password_note")}</p>
            {error && <ErrorNotice t={t} error={error} />}
            <button type="submit" disabled={busy || !newUserId || !password}>
                {busy ? t("signin|busy") : t("signin|submit")}
            </button>
        </form>
    );
}
