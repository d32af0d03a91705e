/**
 * The sign-in methods the new account's server offers, the recommended one first: OAuth 2.0 (and, when offered, a code
 * to approve on another device), single sign-on with each identity provider, the password; an access token stays
 * under "Advanced". Props in, one event out; a typed password or token leaves this component only with the submit,
 * and its field is cleared then.
 */
import React, { useState } from "react";

import type { Translate } from "../i18n/index.ts";
import type { SignInOffer } from "./runtime.ts";

export type SignInChoice =
    | { method: "password"; password: string }
    | { method: "token"; accessToken: string }
    | { method: "sso"; idpId?: string }
    | { method: "oauth" }
    | { method: "device" };

export interface SignInMethodChoiceProps {
    t: Translate;
    offer: SignInOffer;
    busy: boolean;
    onChoose(choice: SignInChoice): void;
}

function serverOf(userId: string): string {
    return userId.slice(userId.indexOf(":") + 1);
}

export function SignInMethodChoice({ t, offer, busy, onChoose }: SignInMethodChoiceProps): React.JSX.Element {
    const [password, setPassword] = useState("");
    const [accessToken, setAccessToken] = useState("");
    const server = serverOf(offer.userId);
    const usable = offer.methods.filter((m) => m.kind !== "token");
    return (
        <section aria-label={t("signin|methods_label")} data-testid="migration-sign-in-methods">
            {usable.length === 0 && <p role="alert">{t("signin|nothing_offered", { server })}</p>}
            {usable.map((method, index) => {
                const recommended = index === 0 && usable.length > 1 ? <p>{t("signin|recommended")}</p> : null;
                switch (method.kind) {
                    case "oauth":
                        return (
                            <div key="oauth">
                                {recommended}
                                <button type="button" disabled={busy} onClick={() => onChoose({ method: "oauth" })}>
                                    {t("signin|oauth", { server })}
                                </button>
                                {method.deviceGrant && (
                                    <button type="button" disabled={busy} onClick={() => onChoose({ method: "device" })}>
                                        {t("signin|device")}
                                    </button>
                                )}
                            </div>
                        );
                    case "sso":
                        return (
                            <div key="sso">
                                {recommended}
                                {method.providers.length === 0 ? (
                                    <button type="button" disabled={busy} onClick={() => onChoose({ method: "sso" })}>
                                        {t("signin|sso", { server })}
                                    </button>
                                ) : (
                                    method.providers.map((idp) => (
                                        <button key={idp.id} type="button" disabled={busy} onClick={() => onChoose({ method: "sso", idpId: idp.id })}>
                                            {t("signin|sso_provider", { provider: idp.name })}
                                        </button>
                                    ))
                                )}
                            </div>
                        );
                    case "password":
                        return (
                            <form
                                key="password"
                                onSubmit={(e) => {
                                    e.preventDefault();
                                    onChoose({ method: "password", password });
                                    setPassword("");
                                }}
                            >
                                {recommended}
                                <label>
                                    {t("signin|password")}
                                    <input name="newPassword" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="off" required />
                                </label>
                                <p>{t("signin|password_note")}</p>
                                <button type="submit" disabled={busy || !password}>
                                    {busy ? t("signin|busy") : t("signin|submit")}
                                </button>
                            </form>
                        );
                    default:
                        return null;
                }
            })}
            <details>
                <summary>{t("signin|advanced")}</summary>
                <form
                    onSubmit={(e) => {
                        e.preventDefault();
                        onChoose({ method: "token", accessToken: accessToken.trim() });
                        setAccessToken("");
                    }}
                >
                    <label>
                        {t("signin|access_token")}
                        <input name="newAccessToken" type="password" value={accessToken} onChange={(e) => setAccessToken(e.target.value)} autoComplete="off" required />
                    </label>
                    <p>{t("signin|access_token_note")}</p>
                    <button type="submit" disabled={busy || !accessToken.trim()}>
                        {t("signin|access_token_submit")}
                    </button>
                </form>
            </details>
        </section>
    );
}
