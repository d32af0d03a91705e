/**
 * "Keep what stays behind", in the plan: how many messages the new account will never see, one button that saves
 * them all (JSON and a page to read), the export's progress, and what was saved.
 */
import React from "react";
import { Button, Heading, Text } from "@vector-im/compound-web";
import DownloadIcon from "@vector-im/compound-design-tokens/assets/web/icons/download";

import { EXPORT_MESSAGE_LIMIT } from "../engine/historyExport.ts";
import type { MigrationPlan } from "../engine/plan.ts";
import type { Translate } from "../i18n/index.ts";
import type { HistoryExportState } from "./MigrationController.ts";

export function HistoryExportPanel({
    t,
    plan,
    busy,
    state,
    onExport,
}: {
    t: Translate;
    plan: MigrationPlan;
    busy: boolean;
    state?: HistoryExportState;
    onExport(): void;
}): React.JSX.Element | null {
    const rooms = plan.rooms.filter((r) => r.selected && r.hiddenHistory);
    if (!rooms.length) return null;
    const count = rooms.reduce((n, r) => n + r.hiddenHistory!.count, 0);
    const progress = state?.progress;
    const last = state?.lastFiles && state.saved.filter((r) => state.lastFiles!.some((f) => r.files.includes(f)));
    return (
        <section className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_exportHeading">
            <Heading as="h3" size="sm" weight="semibold" id="mx_AccountMigration_exportHeading">
                {t("review|export_history_title")}
            </Heading>
            <div className="mx_AccountMigration_stack">
                <Text size="sm">{t("review|export_history_note", { count, rooms: rooms.length })}</Text>
                <div>
                    <Button kind="secondary" size="md" Icon={DownloadIcon} disabled={busy} onClick={onExport}>
                        {t("review|export_history_all")}
                    </Button>
                </div>
                <Text role="status" size="sm">
                    {progress && progress.roomsDone < progress.roomsTotal
                        ? t("review|export_history_progress", {
                              room: progress.roomName,
                              count: progress.messages,
                              done: progress.roomsDone + 1,
                              total: progress.roomsTotal,
                          })
                        : last?.length
                          ? [
                                t("review|export_history_done", {
                                    count: last.reduce((n, r) => n + r.messages, 0),
                                    rooms: last.length,
                                    files: state!.lastFiles!.join(", "),
                                }),
                                ...(last.some((r) => r.undecryptable)
                                    ? [
                                          t("review|export_history_undecryptable", {
                                              count: last.reduce((n, r) => n + r.undecryptable, 0),
                                          }),
                                      ]
                                    : []),
                                ...(last.some((r) => r.truncated)
                                    ? [t("review|export_history_truncated", { limit: EXPORT_MESSAGE_LIMIT })]
                                    : []),
                            ].join(" ")
                          : ""}
                </Text>
            </div>
        </section>
    );
}
