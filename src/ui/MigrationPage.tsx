/**
 * The "Migrate account" page: Element renders it in its main area at #/migrate-account. It shows the state of the
 * one `MigrationController` — sign in → review → run → report — which lives outside this component, so leaving the
 * page does not stop a run and coming back shows it as it is now.
 */
import React, { useEffect, useMemo, useSyncExternalStore } from "react";
import { Heading, Text } from "@vector-im/compound-web";

import type { PageHost } from "./host.ts";
import { KeysPanel } from "./KeysPanel.tsx";
import type { MigrationController } from "./MigrationController.ts";
import { PlanReview } from "./PlanReview.tsx";
import { ProgressView } from "./ProgressView.tsx";
import { RecoveryApproval } from "./RecoveryApproval.tsx";
import { ReportView } from "./ReportView.tsx";
import { avatarRenderer } from "./RoomGroup.tsx";
import { SignInStep } from "./SignInStep.tsx";
import { StepIndicator } from "./StepIndicator.tsx";

export interface MigrationPageProps {
    host: PageHost;
    controller: MigrationController;
    initialNewUserId?: string;
}

export function MigrationPage({ host, controller, initialNewUserId }: MigrationPageProps): React.JSX.Element {
    const { t } = host;
    const state = useSyncExternalStore(controller.subscribe, controller.getState);
    const renderAvatar = useMemo(() => avatarRenderer(host.renderRoomAvatar), [host]);
    useEffect(() => controller.refreshUnfinished(), [controller]);
    const oldUserId = host.oldUserId();
    const { stage } = state;

    let body: React.ReactNode;
    if (oldUserId === null) {
        body = <Text role="alert">{t("page|no_client")}</Text>;
    } else if (stage.name === "sign-in") {
        body = (
            <SignInStep
                t={t}
                oldUserId={oldUserId}
                stage={stage}
                initialNewUserId={initialNewUserId}
                busy={state.busy}
                error={state.error}
                unfinished={state.unfinished}
                onContinue={(run) => controller.continueRun(run)}
                onFind={(target) => void controller.findAccount(target)}
                // Synchronous all the way to the popup: browsers block one opened after an await.
                onChoose={(choice) => controller.signInWith(choice)}
                onCancelWait={() => controller.cancelSignIn()}
                onChangeAccount={() => controller.changeAccount()}
            />
        );
    } else if (stage.name === "review") {
        body = (
            <PlanReview
                t={t}
                plan={stage.plan}
                busy={state.busy}
                error={state.error}
                canStart={!state.newRecoveryKeyToSave}
                continuing={stage.continuing}
                renderAvatar={renderAvatar}
                displayName={host.displayName}
                copyText={host.copyText}
                onChange={(plan) => controller.changePlan(plan)}
                onRun={(dryRun) => controller.start(dryRun)}
                onExportHistory={(roomIds) => void controller.exportHiddenHistory(roomIds)}
                historyExport={state.historyExport}
                keys={
                    <KeysPanel
                        t={t}
                        status={stage.keyStatus}
                        choices={state.keyChoices}
                        onChange={(c) => controller.setKeyChoices(c)}
                        busy={state.busy}
                        recoveryKeyToSave={state.newRecoveryKeyToSave}
                        onRecoveryKeySaved={() => controller.confirmRecoveryKeySaved()}
                        onCheckAgain={() => void controller.checkKeysAgain()}
                        onSetUpRecovery={() => void controller.setUpRecovery()}
                        approval={
                            state.approval && (
                                <RecoveryApproval
                                    t={t}
                                    ask={state.approval}
                                    onPassword={(password) => controller.approveWithPassword(password)}
                                    onCancel={() => controller.cancelApproval()}
                                />
                            )
                        }
                        onExportKeyFile={(passphrase) => controller.exportKeyFile(passphrase)}
                        saveFile={host.saveFile}
                        copyText={host.copyText}
                    />
                }
            />
        );
    } else if (stage.name === "running") {
        body = (
            <ProgressView
                t={t}
                newServer={stage.account.userId.slice(stage.account.userId.indexOf(":") + 1)}
                dryRun={stage.dryRun}
                plannedRooms={stage.plan.rooms.filter((r) => r.selected).length}
                progress={stage.progress}
                lastWait={stage.lastWait}
                paused={stage.paused}
                onPause={() => controller.pause()}
                onResume={() => controller.resume()}
            />
        );
    } else {
        body = (
            <ReportView
                t={t}
                report={stage.report}
                plan={stage.plan}
                renderAvatar={renderAvatar}
                displayName={host.displayName}
                saveFile={host.saveFile}
                copyText={host.copyText}
                onBack={() => controller.backToPlan()}
                onFinish={() => void controller.finish()}
            />
        );
    }

    return (
        <main className="mx_AccountMigration_page" aria-labelledby="mx_AccountMigration_title">
            <Heading as="h1" size="lg" weight="semibold" id="mx_AccountMigration_title">
                {t("page|title")}
            </Heading>
            {oldUserId !== null && <StepIndicator t={t} current={stage.name} />}
            {body}
        </main>
    );
}
