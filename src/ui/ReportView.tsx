/** Step 4: what happened, room by room — and for rooms that need someone else, the message to send them. */
import React from "react";

import type { MigrationReport } from "../engine/migration.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";

export interface ReportViewProps {
    t: Translate;
    report: MigrationReport;
    onDownload(): void;
    onBack(): void;
    onFinish(): void;
}

export function ReportView({ t, report, onDownload, onBack, onFinish }: ReportViewProps): React.JSX.Element {
    const by = (o: string) => report.rooms.filter((r) => r.outcome === o).length;
    const keys = report.keys;
    // The engine's reasons come as translation keys, so they read in the user's language.
    const words = (reasons: MigrationReport["rooms"][number]["reasons"]) => reasons.map((r) => t(r.key as TranslationKey, r.params)).join(" ");
    return (
        <section className="mx_AccountMigration_report" data-testid="migration-report">
            <h2>{report.dryRun ? t("report|dry_heading") : t("report|heading")}</h2>
            <p data-testid="migration-report-summary">
                {t("report|summary", {
                    migrated: by("migrated"),
                    already: by("already"),
                    needsAction: by("needs-action"),
                    skipped: by("skipped"),
                    failed: by("failed"),
                    invites: report.invitesSent,
                })}
            </p>
            {keys && (
                <p data-testid="migration-report-keys">
                    {t("report|keys", { found: keys.sessionsFound, handedOver: keys.sessionsUploaded, missing: keys.sessionsMissing })}
                </p>
            )}
            <ul>
                {report.rooms.map((r) => (
                    <li key={r.roomId} data-testid="migration-report-room" data-outcome={r.outcome}>
                        <strong>{r.name}</strong> · {t(`report|outcome_${r.outcome}` as TranslationKey)}
                        {r.reasons.length > 0 && r.outcome !== "already" && <p>{words(r.reasons)}</p>}
                        {r.adminMessage && <q>{r.adminMessage}</q>}
                    </li>
                ))}
            </ul>
            {report.errors.map((e) => (
                <p key={e} role="alert">
                    {e}
                </p>
            ))}
            <button type="button" onClick={onDownload}>
                {t("report|download")}
            </button>{" "}
            {report.dryRun && (
                <button type="button" onClick={onBack}>
                    {t("report|back")}
                </button>
            )}{" "}
            <button type="button" onClick={onFinish}>
                {t("report|finish")}
            </button>
        </section>
    );
}
