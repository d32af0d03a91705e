/**
 * The "Migrate account" page: Element renders it in its main area at #/migrate-account. It walks through four steps
 * — sign in the new account, review the plan, run, report — and talks to the engine only through a
 * `MigrationRuntime`, loaded when the user starts (so Element's start-up never pays for it).
 */
import React, { useRef, useState } from "react";

import type { ProgressEvent } from "../engine/context.ts";
import { formatDuration } from "../engine/duration.ts";
import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationOptions, MigrationPlan } from "../engine/plan.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { Translate } from "../i18n/index.ts";
import { ErrorNotice } from "./ErrorNotice.tsx";
import { KeysPanel } from "./KeysPanel.tsx";
import { PlanReview } from "./PlanReview.tsx";
import { ProgressView } from "./ProgressView.tsx";
import { ReportView } from "./ReportView.tsx";
import { type KeyChoices, type KeyStatus, type MigrationRuntime, type NewAccountHandle, type RuntimeError, toRuntimeError } from "./runtime.ts";
import { SignInStep } from "./SignInStep.tsx";

export interface MigrationPageProps {
    t: Translate;
    /** The logged-in (old) account, or null while Element has no client yet. */
    oldUserId: string | null;
    initialNewUserId?: string;
    defaultOptions: Partial<MigrationOptions>;
    loadRuntime(): Promise<MigrationRuntime>;
    /** Offers a file to the user (a download in the browser). */
    saveFile(name: string, text: string, type: string): void;
}

type Stage =
    | { name: "sign-in" }
    | { name: "review"; account: NewAccountHandle; plan: MigrationPlan; keyStatus: KeyStatus }
    | { name: "running"; account: NewAccountHandle; plan: MigrationPlan; keyStatus: KeyStatus; progress?: ProgressEvent; lastWait?: WaitNotice }
    | { name: "report"; account: NewAccountHandle; plan: MigrationPlan; keyStatus: KeyStatus; report: MigrationReport };

export function MigrationPage({ t, oldUserId, initialNewUserId, defaultOptions, loadRuntime, saveFile }: MigrationPageProps): React.JSX.Element {
    const [stage, setStage] = useState<Stage>({ name: "sign-in" });
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<RuntimeError | undefined>();
    const [keyChoices, setKeyChoices] = useState<KeyChoices>({});
    const runtime = useRef<MigrationRuntime | null>(null);

    /** Runs one user action: busy while it lasts, its error shown, never an unhandled rejection. */
    const act = async <T,>(work: (rt: MigrationRuntime) => Promise<T>): Promise<T | undefined> => {
        setBusy(true);
        setError(undefined);
        try {
            runtime.current ??= await loadRuntime();
            return await work(runtime.current);
        } catch (e) {
            setError(toRuntimeError(e));
            return undefined;
        } finally {
            setBusy(false);
        }
    };

    if (oldUserId === null) {
        return (
            <main className="mx_AccountMigration_page" data-testid="migration-page">
                <h1>{t("page|title")}</h1>
                <p role="alert">{t("page|no_client")}</p>
            </main>
        );
    }

    let body: React.ReactNode;
    switch (stage.name) {
        case "sign-in":
            body = (
                <SignInStep
                    t={t}
                    initialNewUserId={initialNewUserId}
                    busy={busy}
                    error={error}
                    onSubmit={(input) =>
                        void act(async (rt) => {
                            const account = await rt.signIn(input);
                            const [plan, keyStatus] = await Promise.all([rt.plan(account, defaultOptions), rt.keyStatus(account)]);
                            setStage({ name: "review", account, plan, keyStatus });
                        })
                    }
                />
            );
            break;
        case "review": {
            const refreshKeys = () => act(async (rt) => setStage({ ...stage, keyStatus: await rt.keyStatus(stage.account) }));
            body = (
                <>
                    <PlanReview
                        t={t}
                        plan={stage.plan}
                        busy={busy}
                        onChange={(plan) => setStage({ ...stage, plan })}
                        keys={
                            <KeysPanel
                                t={t}
                                status={stage.keyStatus}
                                choices={keyChoices}
                                onChange={setKeyChoices}
                                busy={busy}
                                onCheckAgain={() => void refreshKeys()}
                                onSetUpRecovery={async () => {
                                    const key = await act((rt) => rt.setUpRecovery(stage.account, keyChoices.newRecoveryKey));
                                    if (!key) return "";
                                    // The module made this backup, so it is trusted with the key it just made.
                                    setKeyChoices({ ...keyChoices, newRecoveryKey: key });
                                    await refreshKeys();
                                    return key;
                                }}
                                onExportKeyFile={async (passphrase) => {
                                    const file = await act((rt) => rt.exportKeyFile(stage.plan, passphrase, keyChoices));
                                    if (file) saveFile("element-keys.txt", file.text, "text/plain");
                                    return file?.sessions ?? 0;
                                }}
                            />
                        }
                        onRun={(dryRun) => {
                            const running: Stage = { ...stage, name: "running" };
                            setStage(running);
                            void act(async (rt) => {
                                const report = await rt.run(stage.account, stage.plan, { ...keyChoices, dryRun }, {
                                    onProgress: (progress) => setStage((s) => (s.name === "running" ? { ...s, progress } : s)),
                                    onWait: (lastWait) => setStage((s) => (s.name === "running" ? { ...s, lastWait } : s)),
                                });
                                setStage({ name: "report", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus, report });
                                return true;
                            }).then((done) => {
                                // On an error before the run could start (e.g. a wrong recovery key), back to the plan.
                                if (done === undefined) setStage(stage);
                            });
                        }}
                    />
                    {error && <ErrorNotice t={t} error={error} />}
                </>
            );
            break;
        }
        case "running":
            body = (
                <ProgressView
                    t={t}
                    newServer={stage.account.userId.slice(stage.account.userId.indexOf(":") + 1)}
                    progress={stage.progress}
                    lastWait={stage.lastWait}
                    formatDuration={formatDuration}
                />
            );
            break;
        case "report":
            body = (
                <ReportView
                    t={t}
                    report={stage.report}
                    onDownload={() => saveFile("account-migration-report.json", JSON.stringify(stage.report, null, 2), "application/json")}
                    onBack={() => setStage({ name: "review", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus })}
                    onFinish={() =>
                        void act(async (rt) => {
                            await rt.signOut(stage.account);
                            setStage({ name: "sign-in" });
                        })
                    }
                />
            );
            break;
    }

    return (
        <main className="mx_AccountMigration_page" data-testid="migration-page">
            <h1>{t("page|title")}</h1>
            <p>{t("page|intro", { oldUser: oldUserId })}</p>
            <p>{t("page|safety")}</p>
            {body}
        </main>
    );
}
