/**
 * Step 1: which new account, and signing it in. The method-specific form (today: password) is its own component, so
 * other sign-in methods slot in beside it. An interrupted migration found in the journal is offered here.
 */
import React from "react";
import { Alert, Button, Heading, Text } from "@vector-im/compound-web";

import type { Translate } from "../i18n/index.ts";
import type { UnfinishedRun } from "./MigrationController.ts";
import { PasswordSignIn } from "./PasswordSignIn.tsx";
import type { RuntimeError } from "./runtime.ts";

export interface SignInStepProps {
    t: Translate;
    oldUserId: string;
    initialNewUserId?: string;
    busy: boolean;
    error?: RuntimeError;
    unfinished: UnfinishedRun[];
    continuing?: UnfinishedRun;
    onContinue(run: UnfinishedRun | undefined): void;
    onSubmit(input: { newUserId: string; homeserverUrl?: string; password: string }): void;
}

export function SignInStep({ t, oldUserId, initialNewUserId, busy, error, unfinished, continuing, onContinue, onSubmit }: SignInStepProps): React.JSX.Element {
    return (
        <section className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_signInHeading">
            <Heading as="h2" size="md" weight="semibold" id="mx_AccountMigration_signInHeading">
                {continuing ? t("signin|continue_heading", { newUser: continuing.newUserId }) : t("signin|heading")}
            </Heading>
            {!continuing && <Text>{t("page|intro", { oldUser: oldUserId })}</Text>}
            {!continuing &&
                unfinished.map((run) => (
                    <Alert
                        key={run.newUserId}
                        type="info"
                        title={t("signin|unfinished_title")}
                        actions={
                            <Button kind="primary" size="md" onClick={() => onContinue(run)}>
                                {t("signin|continue", { newUser: run.newUserId })}
                            </Button>
                        }
                    >
                        {t("signin|unfinished", { newUser: run.newUserId, done: run.roomsDone, total: run.choices.rooms.length })}
                    </Alert>
                ))}
            {continuing && <Text>{t("signin|continue_intro")}</Text>}
            <PasswordSignIn
                key={continuing?.newUserId ?? ""}
                t={t}
                initialNewUserId={continuing?.newUserId ?? initialNewUserId}
                lockedNewUserId={!!continuing}
                busy={busy}
                error={error}
                onSubmit={onSubmit}
            />
            {continuing && (
                <div>
                    <Button kind="tertiary" size="md" onClick={() => onContinue(undefined)}>
                        {t("signin|other_account")}
                    </Button>
                </div>
            )}
            <Text size="sm" className="mx_AccountMigration_secondary">
                {t("page|safety")}
            </Text>
        </section>
    );
}
