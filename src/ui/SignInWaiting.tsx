/**
 * While the new account signs in somewhere else: in a popup (single sign-on, OAuth 2.0), or by approving a code
 * (OAuth 2.0 device authorization) — in a new tab here or on any other device, while the page polls. What changes
 * (the code arriving) is announced; Cancel is always there.
 */
import React, { useId } from "react";
import { Button, Heading, InlineSpinner, Text } from "@vector-im/compound-web";
import PopOutIcon from "@vector-im/compound-design-tokens/assets/web/icons/pop-out";

import type { Translate } from "../i18n/index.ts";
import { isSafeServerUrl } from "../sessions/serverUrl.ts";
import type { SignInWait } from "./MigrationController.ts";

export interface SignInWaitingProps {
    t: Translate;
    wait: SignInWait;
    onCancel(): void;
}

function Waiting({ children }: { children: React.ReactNode }): React.JSX.Element {
    return (
        <div className="mx_AccountMigration_row">
            <InlineSpinner />
            <Text size="sm">{children}</Text>
        </div>
    );
}

export function SignInWaiting({ t, wait, onCancel }: SignInWaitingProps): React.JSX.Element {
    const headingId = useId();
    const prompt = wait.kind === "device" ? wait.prompt : undefined;
    // The server's address becomes a link only when it is https (or http on loopback): never a `javascript:` href.
    const approvalPage = [prompt?.verificationUriComplete, prompt?.verificationUri].find(isSafeServerUrl);
    return (
        <section
            className="mx_AccountMigration_stack"
            aria-labelledby={headingId}
            data-testid="migration-sign-in-waiting"
        >
            <Heading as="h3" size="sm" weight="semibold" id={headingId} tabIndex={-1} data-focus-start>
                {t("signin|waiting_label")}
            </Heading>
            <div className="mx_AccountMigration_stack" aria-live="polite">
                {wait.kind === "popup" ? (
                    <Waiting>{t("signin|waiting_popup")}</Waiting>
                ) : prompt ? (
                    <>
                        <Text>{t("signin|device_instructions")}</Text>
                        <div
                            className="mx_AccountMigration_deviceCode"
                            role="group"
                            aria-labelledby={`${headingId}-code`}
                        >
                            <Text size="sm" className="mx_AccountMigration_secondary" id={`${headingId}-code`}>
                                {t("signin|device_code")}
                            </Text>
                            <span className="mx_AccountMigration_code" data-testid="migration-device-code">
                                {prompt.userCode}
                            </span>
                        </div>
                        {approvalPage && (
                            <div>
                                <Button
                                    as="a"
                                    kind="primary"
                                    size="md"
                                    Icon={PopOutIcon}
                                    href={approvalPage}
                                    target="_blank"
                                    rel="noopener noreferrer"
                                >
                                    {t("approval|open_page")}
                                </Button>
                            </div>
                        )}
                        <Text size="sm" className="mx_AccountMigration_secondary">
                            {t("signin|device_elsewhere", { url: prompt.verificationUri })}
                        </Text>
                        <Waiting>{t("signin|device_waiting")}</Waiting>
                    </>
                ) : (
                    <Waiting>{t("signin|device_starting")}</Waiting>
                )}
            </div>
            <div>
                <Button kind="secondary" size="md" onClick={onCancel}>
                    {t("signin|cancel")}
                </Button>
            </div>
        </section>
    );
}
