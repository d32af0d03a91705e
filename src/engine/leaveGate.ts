/**
 * The leave gate: the old account leaves a room only when the new account can fully replace it there. Every fact
 * is read from the servers at the moment of leaving — never taken from the plan or the journal alone:
 * - the new account is joined, as its own server AND the old account's server see it;
 * - its level, as both servers see it, is at least the old account's level read now;
 * - nothing in the plan blocks leaving (e.g. a creator's power, which cannot be handed over);
 * - in an encrypted room, every key that exists (the old session's, and every session the old backup lists) is in
 *   the new account's backup as read back now — or the user accepted the named losses for this room;
 * - the history audit (history.ts), made as both accounts now, finds no message the old account sees that the new one
 *   cannot see or cannot decrypt — or the user accepted that room's named loss.
 * - a direct chat is listed under its partner in the new account's m.direct, read back now (another client of the
 *   new account writing m.direct from an older copy can drop the entry between the merge and the leave).
 * `evaluateLeaveGate` is the rule, as data in and reasons out; `readLeaveFacts` gathers the facts.
 */
import { orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import type { AccountSession, MigrationContext } from "./context.ts";
import { type HistoryAudit, historyLosses } from "./history.ts";
import type { RoomKeyCheck } from "./keyHandover.ts";
import type { Blocker, RoomPlan } from "./plan.ts";
import { CREATOR, type PowerLevelsView, powerLevelsOf } from "./powerLevels.ts";
import { type Reason, reason } from "./reasons.ts";
import { liveMembership } from "./roomSteps.ts";
import { RoomState, type StateEvent } from "./snapshot.ts";
import { serverNameOf } from "./userId.ts";

export interface LeaveFacts {
    /** The plan's blockers for this room (only those that block leaving count). */
    blockers: Blocker[];
    /** As the new account's own server sees the room. */
    onNewServer: { membership?: string; newLevel: number };
    /** As the old account's server sees the room, read by the old account. */
    onOldServer: { membership?: string; newLevel: number; oldLevel: number; server: string };
    encrypted: boolean;
    /** This run's read-back of the room's keys; undefined when no key hand-over ran. */
    keys?: RoomKeyCheck;
    /** The user accepted, by name, that this room's missing keys and unreadable history stay behind. */
    lossesAccepted: boolean;
    /** The history audit read now, or why it could not be made. */
    history: HistoryAudit | { error: string };
    /** A direct chat's partners that the new account's m.direct, read now, does not list it under. */
    notDirectFor?: string[];
}

export interface GateDecision {
    open: boolean;
    /** Why the old account stays (empty when open). */
    reasons: Reason[];
}

export function evaluateLeaveGate(f: LeaveFacts): GateDecision {
    const why: Reason[] = [];
    // Hidden history is decided by the audit below, which the user can accept; the plan only foretold it.
    for (const b of f.blockers.filter((x) => x.blocks === "leave" && x.code !== "hidden-history"))
        why.push({ key: `blocker|${b.messageKey}`, params: b.params });
    if (f.onNewServer.membership !== "join") why.push(reason("stayed-not-joined-new"));
    if (f.onOldServer.membership !== "join")
        why.push(reason("stayed-not-joined-old", { server: f.onOldServer.server }));
    const newLevel = Math.min(f.onNewServer.newLevel, f.onOldServer.newLevel);
    const creatorBlocked = f.blockers.some((b) => b.code === "creator-power");
    if (newLevel < f.onOldServer.oldLevel && !(f.onOldServer.oldLevel === CREATOR && creatorBlocked)) {
        const oldLevel = f.onOldServer.oldLevel === CREATOR ? "creator" : f.onOldServer.oldLevel;
        why.push(reason("stayed-level-lower", { newLevel, oldLevel }));
    }
    if (f.notDirectFor?.length) why.push(reason("stayed-not-direct", { partners: f.notDirectFor.join(", ") }));
    const before = why.length;
    if (f.encrypted) {
        if (!f.keys) why.push(reason("stayed-no-key-handover"));
        else if ((f.keys.existing === null || f.keys.missing > 0) && !f.lossesAccepted) why.push(...f.keys.reasons);
    }
    why.push(...historyReasons(f, why.length > before));
    return { open: why.length === 0, reasons: why };
}

/** `keysSaid`: the key check already closed the gate, and its reasons say why keys are missing better than a count. */
function historyReasons(f: LeaveFacts, keysSaid: boolean): Reason[] {
    const audit = f.history;
    if ("error" in audit) return [reason("stayed-history-not-audited", { error: audit.error })];
    if (f.lossesAccepted) return [];
    const why: Reason[] = [];
    if (audit.notVisible > 0)
        why.push(reason("stayed-history-not-visible", { count: audit.notVisible, total: audit.oldSees }));
    if (audit.noKey > 0 && !keysSaid) why.push(reason("stayed-history-no-key", { count: audit.noKey }));
    // A sample proves nothing about the pages it skipped: the plan's finding stands.
    if (!historyLosses(audit) && audit.method === "sampled" && f.blockers.some((b) => b.code === "hidden-history"))
        why.push(reason("stayed-history-sampled"));
    return why;
}

/** A state event read with `format=event` (so the create event's sender, a v12 creator, is known). */
function asStateEvent(type: string, raw: Record<string, unknown>): StateEvent {
    const isEvent = typeof raw.content === "object" && raw.content !== null && typeof raw.type === "string";
    return {
        type,
        state_key: "",
        sender: isEvent && typeof raw.sender === "string" ? raw.sender : "",
        content: (isEvent ? raw.content : raw) as Record<string, unknown>,
    };
}

/** The room's power levels as one account's server has them now. */
async function livePowerLevels(ctx: MigrationContext, side: AccountSession, roomId: string): Promise<PowerLevelsView> {
    const bucket = side === ctx.sides.old ? "old:read" : "new:read";
    const read = (type: string) =>
        ctx.read<Record<string, unknown>>(bucket, side, `/rooms/${seg(roomId)}/state/${seg(type)}/`, {
            query: { format: "event" },
        });
    const [create, pl] = await Promise.all([
        read("m.room.create"),
        orIfNotFound(read("m.room.power_levels"), undefined),
    ]);
    const state = [asStateEvent("m.room.create", create), ...(pl ? [asStateEvent("m.room.power_levels", pl)] : [])];
    return powerLevelsOf(new RoomState({ roomId, membership: "join", state, accountData: {} }));
}

/** The partners of a direct chat whose entry in the new account's m.direct (read now) lacks the room. */
async function partnersNotListing(ctx: MigrationContext, room: RoomPlan): Promise<string[]> {
    const neu = ctx.sides.new;
    const partners = room.dmPartners.filter((p) => p !== neu.userId);
    if (room.kind !== "dm" || !partners.length) return [];
    const direct = await orIfNotFound(
        ctx.read<Record<string, unknown>>("new:read", neu, `/user/${seg(neu.userId)}/account_data/m.direct`),
        {},
    );
    return partners.filter((p) => {
        const rooms = (direct as Record<string, unknown>)?.[p];
        return !(Array.isArray(rooms) && rooms.includes(room.roomId));
    });
}

/**
 * Reads the facts for the gate now. The old account's server may learn of the new account's join or level a moment
 * after the new server does (federation), so it is asked again for a few seconds before the answer counts.
 */
export async function readLeaveFacts(
    ctx: MigrationContext,
    room: RoomPlan,
    keys: RoomKeyCheck | undefined,
    history: LeaveFacts["history"],
): Promise<LeaveFacts> {
    const { old, new: neu } = ctx.sides;
    const onOld = async () => {
        const [membership, pl] = await Promise.all([
            liveMembership(ctx, "old", room.roomId),
            livePowerLevels(ctx, old, room.roomId),
        ]);
        return {
            membership,
            newLevel: pl.userLevel(neu.userId),
            oldLevel: pl.userLevel(old.userId),
            server: serverNameOf(old.userId),
        };
    };
    const onOldServer = await ctx.scheduler.poll(
        onOld,
        (o) => o.membership === "join" && (o.newLevel >= o.oldLevel || o.oldLevel === CREATOR),
        10_000,
    );
    const [membership, newPl, notDirectFor] = await Promise.all([
        liveMembership(ctx, "new", room.roomId),
        livePowerLevels(ctx, neu, room.roomId),
        partnersNotListing(ctx, room),
    ]);
    return {
        blockers: room.blockers,
        onNewServer: { membership, newLevel: newPl.userLevel(neu.userId) },
        onOldServer,
        encrypted: room.encrypted,
        keys,
        lossesAccepted: ctx.plan.options.acceptMissingKeys.includes(room.roomId),
        history,
        notDirectFor,
    };
}
