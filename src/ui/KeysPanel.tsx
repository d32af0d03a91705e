/**
 * Encrypted history, in the plan review: what is handed over, and the choices when the new account's backup cannot
 * be verified or does not exist yet (set it up in Element, set it up here, or save a key file).
 */
import React, { useState } from "react";

import type { Translate } from "../i18n/index.ts";
import type { KeyChoices, KeyStatus } from "./runtime.ts";

export interface KeysPanelProps {
    t: Translate;
    status: KeyStatus;
    choices: KeyChoices;
    onChange(choices: KeyChoices): void;
    busy: boolean;
    onCheckAgain(): void;
    onSetUpRecovery(): Promise<string>;
    onExportKeyFile(passphrase: string): Promise<number>;
}

/** A recovery key is a secret: typed into a password field, never echoed. */
function RecoveryKeyInput(props: {
    label: string;
    name: "oldRecoveryKey" | "newRecoveryKey";
    choices: KeyChoices;
    onChange(choices: KeyChoices): void;
}): React.JSX.Element {
    return (
        <label>
            {props.label}
            <input
                name={props.name}
                type="password"
                autoComplete="off"
                value={props.choices[props.name] ?? ""}
                onChange={(e) => props.onChange({ ...props.choices, [props.name]: e.target.value || undefined })}
            />
        </label>
    );
}

export function KeysPanel({ t, status, choices, onChange, busy, onCheckAgain, onSetUpRecovery, onExportKeyFile }: KeysPanelProps): React.JSX.Element {
    const [shownRecoveryKey, setShownRecoveryKey] = useState<string | null>(null);
    const [saved, setSaved] = useState(false);
    const [passphrase, setPassphrase] = useState("");
    const [fileSessions, setFileSessions] = useState<number | null>(null);
    return (
        <section className="mx_AccountMigration_keys" data-testid="migration-keys">
            <h3>{t("keys|heading")}</h3>
            {status.oldSessionKeys && <p>{t("keys|old_session")}</p>}
            {status.oldBackupProblem && <p role="note">{t("keys|old_backup_unusable", { why: status.oldBackupProblem })}</p>}
            {status.newBackupProblem && <p role="alert">{t("keys|new_backup_unusable", { why: status.newBackupProblem })}</p>}
            {status.oldBackup &&
                !status.oldBackupProblem &&
                (status.oldBackupKeyInSession ? (
                    <p>{t("keys|old_backup_key_in_session")}</p>
                ) : (
                    <RecoveryKeyInput label={t("keys|old_recovery_key")} name="oldRecoveryKey" choices={choices} onChange={onChange} />
                ))}
            {status.newBackup ? (
                <>
                    <RecoveryKeyInput label={t("keys|new_recovery_key")} name="newRecoveryKey" choices={choices} onChange={onChange} />
                    {!choices.newRecoveryKey && (
                        <>
                            <p className="mx_AccountMigration_warning">{t("keys|risk")}</p>
                            <label>
                                <input
                                    type="checkbox"
                                    name="trustUnverified"
                                    checked={!!choices.trustUnverifiedNewBackup}
                                    onChange={(e) => onChange({ ...choices, trustUnverifiedNewBackup: e.target.checked })}
                                />
                                {t("keys|trust_unverified")}
                            </label>
                        </>
                    )}
                </>
            ) : shownRecoveryKey ? null : (
                <div data-testid="migration-no-backup">
                    <p>{t("keys|no_backup")}</p>
                    <p>
                        {t("keys|option_element")}{" "}
                        <button type="button" disabled={busy} onClick={onCheckAgain}>
                            {t("keys|check_again")}
                        </button>
                    </p>
                    {!status.newBackupProblem && <p>
                        {t("keys|option_here")}{" "}
                        <button type="button" disabled={busy} onClick={() => void onSetUpRecovery().then(setShownRecoveryKey)}>
                            {t("keys|set_up")}
                        </button>
                    </p>}
                    <p>{t("keys|option_file")}</p>
                    <label>
                        {t("keys|passphrase")}
                        <input name="keyFilePassphrase" type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
                    </label>
                    <button type="button" disabled={busy || passphrase.length < 8} onClick={() => void onExportKeyFile(passphrase).then(setFileSessions)}>
                        {t("keys|download")}
                    </button>
                    {fileSessions !== null && <p role="status">{t("keys|file_ready", { count: fileSessions })}</p>}
                </div>
            )}
            {shownRecoveryKey && !saved && (
                <div className="mx_AccountMigration_recoveryKey" data-testid="migration-new-recovery-key">
                    <p>{t("keys|recovery_key_shown")}</p>
                    <code>{shownRecoveryKey}</code>
                    <label>
                        <input type="checkbox" name="recoveryKeySaved" onChange={(e) => setSaved(e.target.checked)} />
                        {t("keys|saved")}
                    </label>
                </div>
            )}
        </section>
    );
}
