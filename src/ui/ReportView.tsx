/**
 * Step 4: what happened, grouped like the plan. Rooms that need someone else carry the message to send them; all of
 * those can be copied at once. The report downloads as JSON (for tools) and Markdown (for people).
 */
import React, { useMemo, useState } from "react";
import { Alert, Badge, Button, Heading, Text } from "@vector-im/compound-web";
import CopyIcon from "@vector-im/compound-design-tokens/assets/web/icons/copy";
import DownloadIcon from "@vector-im/compound-design-tokens/assets/web/icons/download";

import type { MigrationReport } from "../engine/migration.ts";
import type { RoomPlan } from "../engine/plan.ts";
import type { RoomResult } from "../engine/roomSteps.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";
import type { RoomKeysReport } from "../engine/keyHandover.ts";
import { REPORT_GROUPS, adminRequests, resultReasons, roomDisplayName, translatedReasons } from "./planGroups.ts";
import { AdminMessage } from "./PlanReview.tsx";
import { adminRequestsText, reportMarkdown } from "./reportExport.ts";
import { RoomGroup, type RoomRowModel } from "./RoomGroup.tsx";

export interface ReportViewProps {
    t: Translate;
    report: MigrationReport;
    plan: { rooms: RoomPlan[] };
    renderAvatar(roomId: string, name: string): React.ReactNode;
    displayName(roomId: string, userId: string): string | undefined;
    saveFile(name: string, text: string, type: string): void;
    copyText(text: string): Promise<void>;
    onBack(): void;
    onFinish(): void;
}

const BADGES = {
    "needs-action": "red",
    "failed": "red",
    "migrated": "green",
    "already": "green",
    "skipped": "grey",
} as const;

function RoomKeys({ t, entry }: { t: Translate; entry: RoomKeysReport }): React.JSX.Element {
    const reasons = translatedReasons(t, entry.reasons, entry.why);
    return (
        <>
            <Text size="sm">
                {t("report|room_keys", { found: entry.found, handedOver: entry.handedOver, missing: entry.missing })}
            </Text>
            {reasons.map((r) => (
                <Text key={r} size="sm">
                    {r}
                </Text>
            ))}
        </>
    );
}

export function ReportView({
    t,
    report,
    plan,
    renderAvatar,
    displayName,
    saveFile,
    copyText,
    onBack,
    onFinish,
}: ReportViewProps): React.JSX.Element {
    const keys = report.keys;
    const [copiedAll, setCopiedAll] = useState(false);
    const requests = useMemo(() => adminRequests(t, report, plan), [t, report, plan]);
    // The history audit's totals (the rooms concerned are in "needs action", each with its reason).
    const audited = report.rooms.filter((r) => r.history);
    const sum = (f: (h: NonNullable<RoomResult["history"]>) => number) =>
        audited.reduce((n, r) => n + f(r.history!), 0);
    const planById = useMemo(() => new Map(plan.rooms.map((r) => [r.roomId, r])), [plan]);
    const rowOf = (r: RoomResult): RoomRowModel => {
        const planned = planById.get(r.roomId);
        const reasons = resultReasons(t, r);
        const admin = requests.find((q) => q.roomId === r.roomId)?.message;
        return {
            roomId: r.roomId,
            name: planned ? roomDisplayName(planned, displayName) : r.name,
            status: reasons[0] ?? t(`report|outcome_${r.outcome}` as TranslationKey),
            details: () => (
                <>
                    {reasons.slice(1).map((reason) => (
                        <Text key={reason} size="sm">
                            {reason}
                        </Text>
                    ))}
                    {admin && <AdminMessage t={t} text={admin} copyText={copyText} />}
                    {keys?.perRoom[r.roomId] && <RoomKeys t={t} entry={keys.perRoom[r.roomId]} />}
                    {r.history && (
                        <Text size="sm">
                            {t("report|room_history", {
                                ...r.history,
                                method: t(
                                    r.history.method === "exact" ? "report|history_exact" : "report|history_sampled",
                                ),
                            })}
                        </Text>
                    )}
                </>
            ),
        };
    };

    return (
        <section className="mx_AccountMigration_stack" aria-labelledby="mx_AccountMigration_reportHeading">
            <Heading as="h2" size="md" weight="semibold" id="mx_AccountMigration_reportHeading">
                {report.dryRun ? t("report|dry_heading") : t("report|heading")}
            </Heading>
            <div className="mx_AccountMigration_row">
                {REPORT_GROUPS.map((g) => {
                    const n = report.rooms.filter((r) => r.outcome === g).length;
                    return n ? (
                        <Badge key={g} kind={BADGES[g]}>
                            {t("report|badge", { group: t(`report|group_${g}` as TranslationKey), count: n })}
                        </Badge>
                    ) : null;
                })}
            </div>
            {keys && (
                <Text>
                    {t("report|keys", {
                        found: keys.sessionsFound,
                        handedOver: keys.sessionsUploaded,
                        missing: keys.sessionsMissing,
                    })}
                </Text>
            )}
            {audited.length > 0 && (
                <Text>
                    {t("report|history", {
                        rooms: audited.length,
                        oldSees: sum((h) => h.oldSees),
                        newSees: sum((h) => h.newSees),
                        newCanDecrypt: sum((h) => h.newCanDecrypt),
                        notVisible: sum((h) => h.notVisible),
                        noKey: sum((h) => h.noKey),
                    })}
                </Text>
            )}
            {report.historyExports && report.historyExports.length > 0 && (
                <Text>
                    {t("report|history_kept", {
                        count: report.historyExports.reduce((n, e) => n + e.messages, 0),
                        rooms: report.historyExports.length,
                        files: [...new Set(report.historyExports.flatMap((e) => e.files))].join(", "),
                    })}
                </Text>
            )}
            {report.errors.length > 0 && (
                <div role="alert">
                    <Alert type="critical" title={t("report|errors_title")}>
                        <details>
                            <summary>{t("error|details")}</summary>
                            {report.errors.map((e) => (
                                <span key={e} className="mx_AccountMigration_secondary" style={{ display: "block" }}>
                                    {e}
                                </span>
                            ))}
                        </details>
                    </Alert>
                </div>
            )}
            {requests.length > 0 && (
                <Alert
                    type="info"
                    title={t("report|admin_requests")}
                    actions={
                        <Button
                            kind="secondary"
                            size="md"
                            Icon={CopyIcon}
                            onClick={() =>
                                void copyText(adminRequestsText(t, report, plan)).then(() => setCopiedAll(true))
                            }
                        >
                            {copiedAll ? t("report|copied_all") : t("report|copy_all", { count: requests.length })}
                        </Button>
                    }
                >
                    {t("report|admin_requests_note")}
                </Alert>
            )}
            {REPORT_GROUPS.map((g) => {
                const rooms = report.rooms.filter((r) => r.outcome === g);
                if (!rooms.length) return null;
                return (
                    <RoomGroup
                        key={g}
                        t={t}
                        title={t(`report|group_${g}` as TranslationKey)}
                        rows={rooms.map(rowOf)}
                        total={rooms.length}
                        badge={BADGES[g]}
                        renderAvatar={renderAvatar}
                    />
                );
            })}
            <div className="mx_AccountMigration_actions">
                <Button
                    kind="tertiary"
                    Icon={DownloadIcon}
                    onClick={() =>
                        saveFile("account-migration-report.json", JSON.stringify(report, null, 2), "application/json")
                    }
                >
                    {t("report|download_json")}
                </Button>
                <Button
                    kind="tertiary"
                    Icon={DownloadIcon}
                    onClick={() =>
                        saveFile("account-migration-report.md", reportMarkdown(t, report, plan), "text/markdown")
                    }
                >
                    {t("report|download_markdown")}
                </Button>
                {report.dryRun && (
                    <Button kind="secondary" onClick={onBack}>
                        {t("report|back")}
                    </Button>
                )}
                <Button kind="primary" onClick={onFinish}>
                    {t("report|finish")}
                </Button>
            </div>
        </section>
    );
}
