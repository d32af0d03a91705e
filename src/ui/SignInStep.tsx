/**
 * Step 1: which new account, then how it signs in. First the account (and its homeserver address, when it cannot be
 * found from the name); then the methods its server offers; then, for a sign-in that happens elsewhere, a wait that
 * can be cancelled. An interrupted migration found in the journal is offered here, and continuing it locks the
 * account to the journal's. Errors show at the field they are about; focus follows the step a keyboard user is on.
 * Props in (the controller's sign-in stage), events out.
 */
import React, { useEffect, useRef, useState } from "react";
import { Alert, Button, Form, Heading, InlineSpinner, Text } from "@vector-im/compound-web";

import type { Translate } from "../i18n/index.ts";
import { ErrorNotice, FieldErrorMessage } from "./ErrorNotice.tsx";
import type { SignInChoice, Stage, UnfinishedRun } from "./MigrationController.ts";
import type { NewAccountTarget, RuntimeError } from "./runtime.ts";
import { SignInMethodChoice } from "./SignInMethodChoice.tsx";
import { SignInWaiting } from "./SignInWaiting.tsx";

export type SignInStage = Extract<Stage, { name: "sign-in" }>;

export interface SignInStepProps {
    t: Translate;
    oldUserId: string;
    stage: SignInStage;
    initialNewUserId?: string;
    busy: boolean;
    error?: RuntimeError;
    unfinished: UnfinishedRun[];
    onContinue(run: UnfinishedRun | undefined): void;
    onFind(target: NewAccountTarget): void;
    onChoose(choice: SignInChoice): void;
    onCancelWait(): void;
    onChangeAccount(): void;
}

type Field = "newUserId" | "homeserverUrl" | "newPassword";

/** Which field an error is about (codes from src/sessions), on the part of the step that shows it. */
function fieldOf(error: RuntimeError | undefined, lookingUp: boolean): Field | undefined {
    switch (error?.code) {
        case "bad-user-id":
        case "same-account":
        case "server-not-allowed":
            return lookingUp ? "newUserId" : undefined;
        case "no-well-known":
        case "unreachable":
        case "not-answering":
        case "not-a-homeserver":
        case "insecure-homeserver":
            return lookingUp ? "homeserverUrl" : undefined;
        case "wrong-password":
            return lookingUp ? undefined : "newPassword";
        default:
            return undefined;
    }
}

/** The account to move to, and its homeserver's address when its name does not lead to it. */
function AccountForm(
    props: Pick<SignInStepProps, "t" | "stage" | "initialNewUserId" | "busy" | "error" | "onFind"> & { field?: Field },
): React.JSX.Element {
    const { t, stage, busy, error, field, onFind } = props;
    const locked = !!stage.continuing;
    const [newUserId, setNewUserId] = useState(
        stage.continuing?.newUserId ?? stage.target?.newUserId ?? props.initialNewUserId ?? "",
    );
    const [homeserverUrl, setHomeserverUrl] = useState(stage.target?.homeserverUrl ?? "");
    const askHomeserver = field === "homeserverUrl" || homeserverUrl !== "";
    return (
        <Form.Root
            className="mx_AccountMigration_stack"
            onSubmit={(e) => {
                e.preventDefault();
                // Compound's disabled submit is only aria-disabled: the form can still be sent.
                if (busy || !newUserId.trim()) return;
                onFind({ newUserId: newUserId.trim(), homeserverUrl: homeserverUrl.trim() || undefined });
            }}
        >
            <Form.Field name="newUserId" serverInvalid={field === "newUserId"}>
                <Form.Label>{t("signin|new_user")}</Form.Label>
                <Form.TextControl
                    value={newUserId}
                    readOnly={locked}
                    onChange={(e: React.ChangeEvent<HTMLInputElement>) => setNewUserId(e.currentTarget.value)}
                    autoComplete="off"
                    spellCheck={false}
                    required
                />
                {field === "newUserId" && error ? (
                    <FieldErrorMessage t={t} error={error} />
                ) : (
                    <Form.HelpMessage>{t("signin|new_user_help")}</Form.HelpMessage>
                )}
            </Form.Field>
            {askHomeserver && (
                <Form.Field name="homeserverUrl" serverInvalid={field === "homeserverUrl"}>
                    <Form.Label>{t("signin|homeserver")}</Form.Label>
                    <Form.TextControl
                        type="url"
                        value={homeserverUrl}
                        onChange={(e: React.ChangeEvent<HTMLInputElement>) => setHomeserverUrl(e.currentTarget.value)}
                        placeholder={t("signin|homeserver_placeholder")}
                        spellCheck={false}
                    />
                    {field === "homeserverUrl" && error ? (
                        <FieldErrorMessage t={t} error={error} />
                    ) : (
                        <Form.HelpMessage>{t("signin|homeserver_help")}</Form.HelpMessage>
                    )}
                </Form.Field>
            )}
            {error && !field && <ErrorNotice t={t} error={error} />}
            <div>
                <Form.Submit size="md" disabled={busy || !newUserId.trim()}>
                    {busy && <InlineSpinner />}
                    {busy ? t("signin|finding") : t("signin|find")}
                </Form.Submit>
            </div>
        </Form.Root>
    );
}

export function SignInStep(props: SignInStepProps): React.JSX.Element {
    const { t, oldUserId, stage, busy, error, unfinished, onContinue } = props;
    const { continuing, offer, wait } = stage;
    const phase = !offer ? "account" : wait ? "waiting" : "methods";
    const field = fieldOf(error, phase === "account");
    const root = useRef<HTMLElement>(null);

    // A new part of the step replaced the one the person was on: focus goes to its start (not on first render).
    const shownPhase = useRef(phase);
    useEffect(() => {
        if (shownPhase.current === phase) return;
        shownPhase.current = phase;
        root.current
            ?.querySelector<HTMLElement>(phase === "account" ? "input[name=newUserId]" : "[data-focus-start]")
            ?.focus();
    }, [phase]);
    // An error about one field: focus goes there, where the message is read with it.
    useEffect(() => {
        if (field) root.current?.querySelector<HTMLElement>(`input[name=${field}]`)?.focus();
    }, [error, field]);

    return (
        <section ref={root} className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_signInHeading">
            <Heading as="h2" size="md" weight="semibold" id="mx_AccountMigration_signInHeading">
                {continuing ? t("signin|continue_heading", { newUser: continuing.newUserId }) : t("signin|heading")}
            </Heading>
            {phase === "account" && !continuing && <Text>{t("page|intro", { oldUser: oldUserId })}</Text>}
            {phase === "account" &&
                !continuing &&
                unfinished.map((run) =>
                    run.elsewhere ? (
                        // Running on another device now: said so, with nothing here to start it a second time.
                        <Alert
                            key={run.newUserId}
                            type="info"
                            title={t("signin|running_elsewhere_title")}
                            data-testid="migration-running-elsewhere"
                        >
                            {t("signin|running_elsewhere", {
                                newUser: run.newUserId,
                                done: run.roomsDone,
                                total: run.choices.rooms.length,
                            })}
                        </Alert>
                    ) : (
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
                            {t("signin|unfinished", {
                                newUser: run.newUserId,
                                done: run.roomsDone,
                                total: run.choices.rooms.length,
                            })}
                        </Alert>
                    ),
                )}
            {phase === "account" && continuing && <Text>{t("signin|continue_intro")}</Text>}
            {!offer ? (
                <AccountForm
                    key={continuing?.newUserId ?? ""}
                    t={t}
                    stage={stage}
                    initialNewUserId={props.initialNewUserId}
                    busy={busy}
                    error={error}
                    field={field}
                    onFind={props.onFind}
                />
            ) : (
                <div className="mx_AccountMigration_row">
                    <Text>{t("signin|account_found", { user: offer.userId, homeserver: offer.baseUrl })}</Text>
                    {!wait && !continuing && (
                        <Button kind="tertiary" size="md" disabled={busy} onClick={props.onChangeAccount}>
                            {t("signin|change_account")}
                        </Button>
                    )}
                </div>
            )}
            {offer && wait && <SignInWaiting t={t} wait={wait} onCancel={props.onCancelWait} />}
            {offer && !wait && (
                <SignInMethodChoice
                    t={t}
                    offer={offer}
                    busy={busy}
                    passwordError={field === "newPassword" ? error : undefined}
                    onChoose={props.onChoose}
                />
            )}
            {offer && error && !field && <ErrorNotice t={t} error={error} />}
            {continuing && !wait && (
                <div>
                    <Button kind="tertiary" size="md" disabled={busy} onClick={() => onContinue(undefined)}>
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
