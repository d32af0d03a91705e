/**
 * When the new account's server asks for approval while recovery is being set up (user-interactive auth for new
 * cross-signing keys): the password once more — used for that one request — or a page of the server (OAuth 2.0
 * account page, single sign-on) opened in a new window from a link; the set-up retries until the server sees it.
 */
import React, { useState } from "react";

import type { Translate } from "../i18n/index.ts";

export type ApprovalAsk = { kind: "password" } | { kind: "page"; url: string };

export interface RecoveryApprovalProps {
    t: Translate;
    ask: ApprovalAsk;
    onPassword(password: string): void;
    onCancel(): void;
}

export function RecoveryApproval({ t, ask, onPassword, onCancel }: RecoveryApprovalProps): React.JSX.Element {
    const [password, setPassword] = useState("");
    return (
        <section aria-label={t("approval|label")} data-testid="migration-recovery-approval">
            {ask.kind === "password" ? (
                <form
                    onSubmit={(e) => {
                        e.preventDefault();
                        onPassword(password);
                        setPassword("");
                    }}
                >
                    <p>{t("approval|password_intro")}</p>
                    <label>
                        {t("approval|password")}
                        <input name="approvalPassword" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="off" required />
                    </label>
                    <button type="submit" disabled={!password}>
                        {t("approval|continue")}
                    </button>
                </form>
            ) : (
                <>
                    <p>{t("approval|page_intro")}</p>
                    <p>
                        <a href={ask.url} target="_blank" rel="noopener noreferrer">
                            {t("approval|open_page")}
                        </a>
                    </p>
                    <p>{t("approval|page_waiting")}</p>
                </>
            )}
            <button type="button" onClick={onCancel}>
                {t("approval|cancel")}
            </button>
        </section>
    );
}
