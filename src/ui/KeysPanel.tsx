/**
 * Encrypted history, in the plan review: what is handed over, the recovery keys, and the security choices as real
 * choices — the critical consent to hand keys to a backup that cannot be checked, and, for a new account without a
 * backup, one of three routes (set it up in Element, set it up here, or save a key file). A recovery key made here
 * is shown once, with copy and download, and must be confirmed saved before anything continues.
 */
import React, { useState } from "react";
import { Alert, Button, Form, Heading, Text } from "@vector-im/compound-web";
import CopyIcon from "@vector-im/compound-design-tokens/assets/web/icons/copy";
import DownloadIcon from "@vector-im/compound-design-tokens/assets/web/icons/download";

import type { Translate } from "../i18n/index.ts";
import type { KeyChoices, KeyStatus } from "./runtime.ts";
import { SecretInput } from "./SecretInput.tsx";

export interface KeysPanelProps {
    t: Translate;
    status: KeyStatus;
    choices: KeyChoices;
    onChange(choices: KeyChoices): void;
    busy: boolean;
    /** The new account's recovery key made here, until the user confirms it is saved. */
    recoveryKeyToSave?: string;
    onRecoveryKeySaved(): void;
    onCheckAgain(): void;
    onSetUpRecovery(): void;
    /** The server's request for approval while recovery is set up here. */
    approval?: React.ReactNode;
    onExportKeyFile(passphrase: string): Promise<number | undefined>;
    saveFile(name: string, text: string, type: string): void;
    copyText(text: string): Promise<void>;
}

type Route = "element" | "here" | "file";

function NewRecoveryKey({
    t,
    recoveryKey,
    onSaved,
    saveFile,
    copyText,
}: {
    t: Translate;
    recoveryKey: string;
    onSaved(): void;
    saveFile: KeysPanelProps["saveFile"];
    copyText: KeysPanelProps["copyText"];
}): React.JSX.Element {
    const [copied, setCopied] = useState(false);
    const [saved, setSaved] = useState(false);
    return (
        <section className="mx_AccountMigration_group" aria-labelledby="mx_AccountMigration_newKeyHeading">
            <Heading as="h4" size="sm" weight="semibold" id="mx_AccountMigration_newKeyHeading">
                {t("keys|recovery_key_heading")}
            </Heading>
            <Text size="sm">{t("keys|recovery_key_shown")}</Text>
            <div className="mx_AccountMigration_recoveryKey" aria-label={t("keys|recovery_key_heading")}>
                {recoveryKey}
            </div>
            <div className="mx_AccountMigration_row">
                <Button
                    kind="secondary"
                    size="md"
                    Icon={CopyIcon}
                    onClick={() => void copyText(recoveryKey).then(() => setCopied(true))}
                >
                    {copied ? t("keys|copied") : t("keys|copy")}
                </Button>
                <Button
                    kind="secondary"
                    size="md"
                    Icon={DownloadIcon}
                    onClick={() => saveFile("recovery-key.txt", `${recoveryKey}\n`, "text/plain")}
                >
                    {t("keys|download_key")}
                </Button>
            </div>
            <Form.Root onSubmit={(e) => e.preventDefault()} className="mx_AccountMigration_row">
                <Form.InlineField
                    name="recoveryKeySaved"
                    control={
                        <Form.CheckboxControl
                            checked={saved}
                            onChange={(e: React.ChangeEvent<HTMLInputElement>) => setSaved(e.currentTarget.checked)}
                        />
                    }
                >
                    <Form.Label>{t("keys|saved")}</Form.Label>
                </Form.InlineField>
                <Button kind="primary" size="md" disabled={!saved} onClick={onSaved}>
                    {t("keys|saved_continue")}
                </Button>
            </Form.Root>
        </section>
    );
}

export function KeysPanel(props: KeysPanelProps): React.JSX.Element {
    const { t, status, choices, onChange, busy } = props;
    const [route, setRoute] = useState<Route>("element");
    const [passphrase, setPassphrase] = useState("");
    const [fileSessions, setFileSessions] = useState<number | null>(null);
    const setKey = (name: "oldRecoveryKey" | "newRecoveryKey", value: string) =>
        onChange({ ...choices, [name]: value || undefined });

    return (
        <section className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_keysHeading">
            <Heading as="h3" size="sm" weight="semibold" id="mx_AccountMigration_keysHeading">
                {t("keys|heading")}
            </Heading>
            {status.oldSessionKeys && <Text size="sm">{t("keys|old_session")}</Text>}
            {status.oldBackupProblem && (
                <Alert type="info" title={t("keys|old_backup_unusable", { why: status.oldBackupProblem })} />
            )}
            {status.newBackupProblem && (
                <Alert type="critical" title={t("keys|new_backup_unusable", { why: status.newBackupProblem })} />
            )}
            {props.recoveryKeyToSave && (
                <NewRecoveryKey
                    t={t}
                    recoveryKey={props.recoveryKeyToSave}
                    onSaved={props.onRecoveryKeySaved}
                    saveFile={props.saveFile}
                    copyText={props.copyText}
                />
            )}
            <Form.Root onSubmit={(e) => e.preventDefault()} className="mx_AccountMigration_stack">
                {status.oldBackup &&
                    !status.oldBackupProblem &&
                    (status.oldBackupKeyInSession ? (
                        <Text size="sm">{t("keys|old_backup_key_in_session")}</Text>
                    ) : (
                        <SecretInput
                            t={t}
                            name="oldRecoveryKey"
                            label={t("keys|old_recovery_key")}
                            help={t("keys|old_recovery_key_help")}
                            value={choices.oldRecoveryKey ?? ""}
                            onChange={(v) => setKey("oldRecoveryKey", v)}
                        />
                    ))}
                {status.newBackup && !props.recoveryKeyToSave && (
                    <>
                        <SecretInput
                            t={t}
                            name="newRecoveryKey"
                            label={t("keys|new_recovery_key")}
                            help={t("keys|new_recovery_key_help")}
                            value={choices.newRecoveryKey ?? ""}
                            onChange={(v) => setKey("newRecoveryKey", v)}
                        />
                        {!choices.newRecoveryKey && (
                            <Alert type="critical" title={t("keys|risk_title")}>
                                <span className="mx_AccountMigration_stack">
                                    <span>{t("keys|risk")}</span>
                                    <Form.InlineField
                                        name="trustUnverified"
                                        control={
                                            <Form.CheckboxControl
                                                checked={!!choices.trustUnverifiedNewBackup}
                                                onChange={(e: React.ChangeEvent<HTMLInputElement>) =>
                                                    onChange({
                                                        ...choices,
                                                        trustUnverifiedNewBackup: e.currentTarget.checked,
                                                    })
                                                }
                                            />
                                        }
                                    >
                                        <Form.Label>{t("keys|trust_unverified")}</Form.Label>
                                    </Form.InlineField>
                                </span>
                            </Alert>
                        )}
                    </>
                )}
            </Form.Root>
            {!status.newBackup && !status.newBackupProblem && !props.recoveryKeyToSave && (
                <Form.Root onSubmit={(e) => e.preventDefault()}>
                    <fieldset className="mx_AccountMigration_radioGroup">
                        <legend>
                            <Text size="sm" weight="semibold">
                                {t("keys|no_backup")}
                            </Text>
                        </legend>
                        {(["element", "here", "file"] as const).map((r) => (
                            <React.Fragment key={r}>
                                <Form.InlineField
                                    name={`keyRoute-${r}`}
                                    control={
                                        <Form.RadioControl
                                            name="keyRoute"
                                            value={r}
                                            checked={route === r}
                                            onChange={() => setRoute(r)}
                                        />
                                    }
                                >
                                    <Form.Label>{t(`keys|route_${r}`)}</Form.Label>
                                </Form.InlineField>
                                {route === r && (
                                    <div className="mx_AccountMigration_routeBody">
                                        {r === "element" && (
                                            <>
                                                <Text size="sm">{t("keys|option_element")}</Text>
                                                <div>
                                                    <Button
                                                        kind="secondary"
                                                        size="md"
                                                        disabled={busy}
                                                        onClick={props.onCheckAgain}
                                                    >
                                                        {t("keys|check_again")}
                                                    </Button>
                                                </div>
                                            </>
                                        )}
                                        {r === "here" && (
                                            <>
                                                <Text size="sm">{t("keys|option_here")}</Text>
                                                <div>
                                                    <Button
                                                        kind="secondary"
                                                        size="md"
                                                        disabled={busy}
                                                        onClick={props.onSetUpRecovery}
                                                    >
                                                        {t("keys|set_up")}
                                                    </Button>
                                                </div>
                                            </>
                                        )}
                                        {r === "file" && (
                                            <>
                                                <Text size="sm">{t("keys|option_file")}</Text>
                                                <SecretInput
                                                    t={t}
                                                    name="keyFilePassphrase"
                                                    label={t("keys|passphrase")}
                                                    autoComplete="new-password"
                                                    value={passphrase}
                                                    onChange={setPassphrase}
                                                />
                                                <div>
                                                    <Button
                                                        kind="secondary"
                                                        size="md"
                                                        Icon={DownloadIcon}
                                                        disabled={busy || passphrase.length < 8}
                                                        onClick={() =>
                                                            void props.onExportKeyFile(passphrase).then((n) => {
                                                                // The passphrase was used once; the field forgets it.
                                                                setPassphrase("");
                                                                setFileSessions(n ?? null);
                                                            })
                                                        }
                                                    >
                                                        {t("keys|download")}
                                                    </Button>
                                                </div>
                                                {fileSessions !== null && (
                                                    <Text role="status" size="sm">
                                                        {t("keys|file_ready", { count: fileSessions })}
                                                    </Text>
                                                )}
                                            </>
                                        )}
                                    </div>
                                )}
                            </React.Fragment>
                        ))}
                    </fieldset>
                </Form.Root>
            )}
            {/* Outside the form above (forms do not nest), and shown whichever route is chosen meanwhile. */}
            {props.approval}
        </section>
    );
}
