/**
 * While the new account signs in somewhere else: in a popup (single sign-on, OAuth 2.0), or by approving a code
 * (OAuth 2.0 device authorization) — in a new tab here or on any other device, while the page polls.
 */
import React from "react";

import type { Translate } from "../i18n/index.ts";
import type { DeviceGrantPrompt } from "./runtime.ts";

export type SignInWait = { kind: "popup" } | { kind: "device"; prompt?: DeviceGrantPrompt };

export interface SignInWaitingProps {
    t: Translate;
    wait: SignInWait;
    onCancel(): void;
}

export function SignInWaiting({ t, wait, onCancel }: SignInWaitingProps): React.JSX.Element {
    return (
        <section aria-label={t("signin|waiting_label")} aria-live="polite" data-testid="migration-sign-in-waiting">
            {wait.kind === "popup" ? (
                <p>{t("signin|waiting_popup")}</p>
            ) : wait.prompt ? (
                <>
                    <p>{t("signin|device_instructions")}</p>
                    <p>
                        {t("signin|device_code")} <strong data-testid="migration-device-code">{wait.prompt.userCode}</strong>
                    </p>
                    <p>
                        <a href={wait.prompt.verificationUriComplete ?? wait.prompt.verificationUri} target="_blank" rel="noopener noreferrer">
                            {t("signin|device_open")}
                        </a>{" "}
                        {t("signin|device_elsewhere", { url: wait.prompt.verificationUri })}
                    </p>
                </>
            ) : (
                <p>{t("signin|device_starting")}</p>
            )}
            <button type="button" onClick={onCancel}>
                {t("signin|cancel")}
            </button>
        </section>
    );
}
