/**
 * When the new account's server asks for approval while recovery is being set up (user-interactive auth for new
 * cross-signing keys): the password once more — used for that one request, its field emptied then — or a page of the
 * server (OAuth 2.0 account page, single sign-on) opened in a new tab; the set-up retries until the server sees the
 * approval. It appears because the person just asked for the set-up, so focus goes to what it asks for.
 */
import React, { useEffect, useId, useRef } from "react";
import { Button, Heading, InlineSpinner, Text } from "@vector-im/compound-web";
import PopOutIcon from "@vector-im/compound-design-tokens/assets/web/icons/pop-out";

import type { Translate } from "../i18n/index.ts";
import { isSafeServerUrl } from "../sessions/serverUrl.ts";
import type { ApprovalAsk } from "./MigrationController.ts";
import { SecretForm } from "./SecretForm.tsx";

export interface RecoveryApprovalProps {
    t: Translate;
    ask: ApprovalAsk;
    onPassword(password: string): void;
    onCancel(): void;
}

export function RecoveryApproval({ t, ask, onPassword, onCancel }: RecoveryApprovalProps): React.JSX.Element {
    const headingId = useId();
    const root = useRef<HTMLElement>(null);
    useEffect(
        () => root.current?.querySelector<HTMLElement>("input[name=approvalPassword], a[href]")?.focus(),
        [ask.kind],
    );
    const cancel = (
        <Button kind="secondary" size="md" onClick={onCancel}>
            {t("signin|cancel")}
        </Button>
    );
    return (
        <section
            ref={root}
            className="mx_AccountMigration_group"
            aria-labelledby={headingId}
            data-testid="migration-recovery-approval"
        >
            <Heading as="h4" size="sm" weight="semibold" id={headingId}>
                {t("approval|label")}
            </Heading>
            {ask.kind === "password" ? (
                <SecretForm
                    t={t}
                    name="approvalPassword"
                    label={t("signin|password")}
                    intro={<Text size="sm">{t("approval|password_intro")}</Text>}
                    submitLabel={t("approval|continue")}
                    actions={cancel}
                    onSubmit={onPassword}
                />
            ) : isSafeServerUrl(ask.url) ? (
                <>
                    <Text size="sm">{t("approval|page_intro")}</Text>
                    <div className="mx_AccountMigration_row">
                        <Button
                            as="a"
                            kind="primary"
                            size="md"
                            Icon={PopOutIcon}
                            href={ask.url}
                            target="_blank"
                            rel="noopener noreferrer"
                        >
                            {t("approval|open_page")}
                        </Button>
                        {cancel}
                    </div>
                    <div className="mx_AccountMigration_row" aria-live="polite">
                        <InlineSpinner />
                        <Text size="sm">{t("approval|page_waiting")}</Text>
                    </div>
                </>
            ) : (
                // Never a link to an address that is not https (or loopback http); the runtime refuses those first.
                <div className="mx_AccountMigration_row">
                    <Text size="sm">{t("error|unsafe-url")}</Text>
                    {cancel}
                </div>
            )}
        </section>
    );
}
