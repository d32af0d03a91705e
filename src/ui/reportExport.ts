/** The report as Markdown, in the user's language: what happened, grouped like the page, with every admin request. */
import type { MigrationReport } from "../engine/migration.ts";
import type { RoomPlan } from "../engine/plan.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";
import { REPORT_GROUPS, adminRequests, resultReasons } from "./planGroups.ts";

/** Markdown-significant characters in names the servers control are escaped, so a room name cannot restyle the file. */
const escape = (text: string): string => text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => `\\${c}`);

export function reportMarkdown(t: Translate, report: MigrationReport, plan: { rooms: RoomPlan[] }): string {
    const lines = [`# ${report.dryRun ? t("report|dry_heading") : t("report|heading")}`, ""];
    lines.push(t("report|accounts", { oldUser: report.oldUser, newUser: report.newUser }), "");
    const keys = report.keys;
    if (keys)
        lines.push(
            t("report|keys", {
                found: keys.sessionsFound,
                handedOver: keys.sessionsUploaded,
                missing: keys.sessionsMissing,
            }),
            "",
        );
    const kept = report.historyExports ?? [];
    if (kept.length)
        lines.push(
            escape(
                t("report|history_kept", {
                    count: kept.reduce((n, e) => n + e.messages, 0),
                    rooms: kept.length,
                    files: [...new Set(kept.flatMap((e) => e.files))].join(", "),
                }),
            ),
            "",
        );
    for (const group of REPORT_GROUPS) {
        const rooms = report.rooms.filter((r) => r.outcome === group);
        if (!rooms.length) continue;
        lines.push(`## ${t(`report|group_${group}` as TranslationKey)} (${rooms.length})`, "");
        for (const r of rooms) {
            const reasons = resultReasons(t, r);
            lines.push(
                `- **${escape(r.name)}** (\`${r.roomId}\`)${reasons.length ? `: ${escape(reasons.join(" "))}` : ""}`,
            );
        }
        lines.push("");
    }
    const requests = adminRequests(t, report, plan);
    if (requests.length) {
        lines.push(`## ${t("report|admin_requests")}`, "");
        for (const r of requests) lines.push(`### ${escape(r.room)}`, "", `> ${r.message}`, "");
    }
    if (report.errors.length) {
        lines.push(`## ${t("report|errors_title")}`, "", ...report.errors.map((e) => `- ${escape(e)}`), "");
    }
    return lines.join("\n");
}

/** All admin requests as one text to paste: a heading per room, then its message. */
export function adminRequestsText(t: Translate, report: MigrationReport, plan: { rooms: RoomPlan[] }): string {
    return adminRequests(t, report, plan)
        .map((r) => `${r.room}\n${r.message}`)
        .join("\n\n");
}
