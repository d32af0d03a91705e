/**
 * How the plan and the report are grouped for reading: by what happens to each room. Pure functions, so the grouping
 * the user sees is tested without a browser.
 */
import type { MigrationReport } from "../engine/migration.ts";
import type { Blocker, RoomPlan } from "../engine/plan.ts";
import type { Reason } from "../engine/reasons.ts";
import type { RoomResult } from "../engine/roomSteps.ts";
import { type Translate, type TranslationKey, hasTranslation } from "../i18n/index.ts";

export const PLAN_GROUPS = ["move", "help", "cannot", "already"] as const;
export type PlanGroup = (typeof PLAN_GROUPS)[number];

/**
 * - move: moves with nothing anyone else must do;
 * - help: moves only partly or not at all until someone (a room admin) acts — no right to give the power level, a
 *   knock to answer, an invite or unban to ask for;
 * - cannot: nobody can help (replaced by a newer room, or a room that never federates);
 * - already: the new account is in with the right level.
 */
export function planGroupOf(room: RoomPlan): PlanGroup {
    if (room.status === "already") return "already";
    if (room.status === "replaced") return "cannot";
    const roomBlockers = room.blockers.filter((b) => b.blocks === "room");
    if (room.status === "blocked") return roomBlockers.every((b) => b.code === "not-federated") ? "cannot" : "help";
    return room.blockers.some((b) => b.blocks === "power") ? "help" : "move";
}

export const REPORT_GROUPS = ["needs-action", "failed", "migrated", "already", "skipped"] as const;

/** The v12 creator note is said once per group, not on every row. */
export const isCreatorNote = (b: Blocker): boolean => b.code === "creator-power";
/** History the room hides from newcomers: counted once per group, and the row offers "Leave anyway". */
export const isHiddenHistory = (b: Blocker): boolean => b.code === "hidden-history";

export function blockerReason(t: Translate, b: Blocker): string {
    const key = `blocker|${b.messageKey}`;
    return hasTranslation(key) ? t(key, b.params) : b.reason;
}

export function blockerAdminMessage(t: Translate, b: Blocker): string | undefined {
    if (!b.adminMessage) return undefined;
    const key = `admin|${b.messageKey}`;
    return hasTranslation(key) ? t(key, b.params) : b.adminMessage;
}

/** One line: what will happen to the room. */
export function planStatus(t: Translate, room: RoomPlan): string {
    const group = planGroupOf(room);
    const hidden = room.blockers.find(isHiddenHistory);
    if (group === "move" && hidden) return t("plan_status|hidden-history", hidden.params);
    const first = room.blockers.find(
        (b) => b.blocks === (group === "help" && room.status === "ready" ? "power" : "room"),
    );
    if (group === "already") return t("plan_status|already");
    if (first) {
        const key = `plan_status|${first.messageKey}`;
        return hasTranslation(key) ? t(key as TranslationKey, first.params) : blockerReason(t, first);
    }
    if (room.joinAfterSpace) return t("plan_status|join_after_space");
    if (room.route === "invite") return t("plan_status|invite");
    if (room.route === "knock") return t("plan_status|knock");
    return t("plan_status|join");
}

/** What a direct chat is called: the other people's display names (a DM has no name of its own). */
export function roomDisplayName(
    room: Pick<RoomPlan, "roomId" | "name" | "kind" | "dmPartners">,
    displayName: (roomId: string, userId: string) => string | undefined,
): string {
    if (room.kind !== "dm" || room.dmPartners.length === 0 || room.name !== room.roomId) return room.name;
    return room.dmPartners.map((p) => displayName(room.roomId, p) ?? p).join(", ");
}

/** The engine's reasons in the user's language; its English text when a key has no translation here. */
export function translatedReasons(t: Translate, coded: Reason[], english: string | undefined): string[] {
    if (coded.length && coded.every((r) => hasTranslation(r.key)))
        return coded.map((r) => t(r.key as TranslationKey, r.params));
    return english ? [english] : [];
}

export function resultReasons(t: Translate, room: RoomResult): string[] {
    return translatedReasons(t, room.reasons, room.reason);
}

/** Every admin request of the report, ready to paste into a message per room. */
export function adminRequests(
    t: Translate,
    report: MigrationReport,
    plan: { rooms: RoomPlan[] },
): Array<{ roomId: string; room: string; message: string }> {
    const byId = new Map(plan.rooms.map((r) => [r.roomId, r]));
    const out: Array<{ roomId: string; room: string; message: string }> = [];
    for (const r of report.rooms) {
        if (!r.adminMessage) continue;
        const blocker = byId.get(r.roomId)?.blockers.find((b) => b.adminMessage === r.adminMessage);
        out.push({
            roomId: r.roomId,
            room: r.name,
            message: blocker ? blockerAdminMessage(t, blocker)! : r.adminMessage,
        });
    }
    return out;
}
