/** The report as Markdown, in the user's language: what happened, grouped like the page, with every admin request. */
import type { MigrationReport } from "../engine/migration.ts";
import type { RoomPlan } from "../engine/plan.ts";
import type { Translate, TranslationKey } from "../i18n/index.ts";
import { REPORT_GROUPS, adminRequests, resultReasons } from "./planGroups.ts";

/**
 * Text a server or room admin chose, as one plain line that shows as what it is: line separators and other control
 * characters become spaces, bidirectional overrides (which would reorder what the reader sees) a visible U+FFFD, as
 * in the CLI.
 */
export function plainLine(text: string): string {
    return (
        text
            // eslint-disable-next-line no-control-regex -- control characters are what this removes
            .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
            .replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD")
    );
}

/**
 * Text as inline Markdown that renders as exactly that text. Room names, reasons and the admin messages quoting them
 * come from servers and room admins: no line break (nor anything an editor or renderer may take for one), heading,
 * list, quote, table, code, emphasis, link, image, autolink or HTML may come of them. Line separators and other
 * control characters become spaces, bidirectional overrides U+FFFD, `&`, `<` and `>` entities, and every other ASCII
 * punctuation character is backslash-escaped (CommonMark lets any of them be; escaping `:` and `.` also keeps GFM from
 * linking bare addresses).
 */
export function escapeMarkdown(text: string): string {
    return plainLine(text)
        .replace(/[!-%'-/:;=?@[-`{-~]/g, "\\$&")
        .replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

/** Text as an inline code span (its content is literal): fenced by more backticks than it holds in a row. */
function markdownCode(text: string): string {
    // eslint-disable-next-line no-control-regex -- control characters are what this removes
    const line = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ");
    const fence = "`".repeat(Math.max(0, ...(line.match(/`+/g) ?? []).map((run) => run.length)) + 1);
    return `${fence} ${line} ${fence}`;
}

export function reportMarkdown(t: Translate, report: MigrationReport, plan: { rooms: RoomPlan[] }): string {
    // Every line's text is escaped whole, the module's own words included (they hold no Markdown): what a server
    // chose is interpolated into them, and escaping the whole line leaves no parameter out.
    const text = escapeMarkdown;
    const lines = [`# ${text(report.dryRun ? t("report|dry_heading") : t("report|heading"))}`, ""];
    lines.push(text(t("report|accounts", { oldUser: report.oldUser, newUser: report.newUser })), "");
    const keys = report.keys;
    if (keys)
        lines.push(
            text(
                t("report|keys", {
                    found: keys.sessionsFound,
                    handedOver: keys.sessionsUploaded,
                    missing: keys.sessionsMissing,
                }),
            ),
            "",
        );
    const kept = report.historyExports ?? [];
    if (kept.length)
        lines.push(
            text(
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
        lines.push(`## ${text(t(`report|group_${group}` as TranslationKey))} (${rooms.length})`, "");
        for (const r of rooms) {
            const reasons = resultReasons(t, r);
            lines.push(
                `- **${text(r.name).trim()}** (${markdownCode(r.roomId)})${reasons.length ? `: ${text(reasons.join(" "))}` : ""}`,
            );
        }
        lines.push("");
    }
    const requests = adminRequests(t, report, plan);
    if (requests.length) {
        lines.push(`## ${text(t("report|admin_requests"))}`, "");
        for (const r of requests) lines.push(`### ${text(r.room)}`, "", `> ${text(r.message)}`, "");
    }
    if (report.errors.length) {
        lines.push(`## ${text(t("report|errors_title"))}`, "", ...report.errors.map((e) => `- ${text(e)}`), "");
    }
    return lines.join("\n");
}

/**
 * All admin requests as one text to paste: a heading per room, then its message. Pasted into a chat or a mail, a room
 * name with line breaks or bidirectional overrides would forge lines or reorder them: each is one plain line.
 */
export function adminRequestsText(t: Translate, report: MigrationReport, plan: { rooms: RoomPlan[] }): string {
    return adminRequests(t, report, plan)
        .map((r) => `${plainLine(r.room)}\n${plainLine(r.message)}`)
        .join("\n\n");
}
