/**
 * What happens to one room, start to end: the steps of roomSteps.ts in order, the key read-back, the leave gate, and
 * the room's line in the report with its reasons. migration.ts runs one of these per room, side by side.
 */
import { orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import type { MigrationContext } from "./context.ts";
import { type HistoryAudit, auditHistory, historyLosses, readOldAccountView, sessionsInView } from "./history.ts";
import type { KeyHandover, RoomKeyCheck } from "./keyHandover.ts";
import { evaluateLeaveGate, readLeaveFacts } from "./leaveGate.ts";
import type { MigrationPlan, RoomPlan } from "./plan.ts";
import { type Reason, inEnglish, reason } from "./reasons.ts";
import type { BucketName } from "./scheduler.ts";
import {
    type RoomOutcome,
    type RoomResult,
    confirmMembership,
    copyRoomAccountData,
    inviteNewAccount,
    joinNewAccount,
    knockNewAccount,
    leaveOldRoom,
    raisePowerLevel,
    sendMovedNote,
} from "./roomSteps.ts";

export interface RoomPipelineRun {
    keys?: KeyHandover;
    /** Resolves once the space that opens a restricted room is done: true when the new account is in it. */
    spaceJoined(spaceId: string): Promise<boolean>;
    /** Marks a direct chat as direct for the new account (m.direct). */
    markDirect?(room: RoomPlan): Promise<void>;
    /** Resolves once the account-wide work a room's leaving depends on is done (its notification rules); rejects with why not. */
    beforeLeaving?(): Promise<void>;
}

type Base = Omit<RoomResult, "outcome" | "reason" | "reasons">;

function quoteRoom(room: { name: string; roomId: string }): string {
    return room.name === room.roomId ? room.roomId : `“${room.name}”`;
}

function finish(base: Base, outcome: RoomOutcome, reasons: Reason[], adminMessage?: string): RoomResult {
    return { ...base, outcome, reasons, reason: inEnglish(reasons), ...(adminMessage ? { adminMessage } : {}) };
}

function blockerReasons(room: RoomPlan, blocks: Array<"room" | "power" | "leave">): Reason[] {
    return room.blockers
        .filter((b) => blocks.includes(b.blocks))
        .map((b) => ({ key: `blocker|${b.messageKey}`, params: b.params }));
}

/** A room the plan already knows cannot move (or was not chosen). */
function notMovedResult(room: RoomPlan, base: Base): RoomResult {
    if (!room.selected)
        return finish(
            base,
            "skipped",
            room.status === "replaced" ? blockerReasons(room, ["room"]) : [reason("not-chosen")],
        );
    const first = room.blockers.find((b) => b.blocks === "room");
    const outcome = room.status === "replaced" || first?.code === "not-federated" ? "skipped" : "needs-action";
    return finish(
        base,
        outcome,
        blockerReasons(room, ["room"]),
        outcome === "needs-action"
            ? room.blockers.find((b) => b.blocks === "room" && b.adminMessage)?.adminMessage
            : undefined,
    );
}

function baseOf(room: RoomPlan): Base {
    return {
        roomId: room.roomId,
        name: room.name,
        kind: room.kind,
        steps: [],
        invited: false,
        newAccountJoined: false,
        left: false,
    };
}

/** What can happen to a chosen room, in order: its route in (invite → level → join or knock), then the rest. */
export type RoomStep =
    "invite" | "power" | "join" | "knock" | "confirm" | "room-data" | "direct" | "keys" | "dm-note" | "leave";

/** The steps that bring the new account into the room: the ones the servers rate-limit. */
const ROUTE_BUCKET: Partial<Record<RoomStep, BucketName>> = {
    invite: "old:invite",
    power: "old:state",
    join: "new:join",
    knock: "new:join",
};

/**
 * The one place a room's steps are decided from its plan: the dry run lists them, the ETA counts the requests of the
 * route among them, and the run follows that route (the live checks after it may find more to do, or less).
 */
export function stepsFor(room: RoomPlan, options: MigrationPlan["options"]): RoomStep[] {
    const steps: RoomStep[] = [];
    if (room.route === "invite") steps.push("invite");
    if (room.targetPowerLevel !== null && !room.blockers.some((b) => b.code === "old-cannot-set-power"))
        steps.push("power");
    if (room.route === "invite" || room.route === "join") steps.push("join");
    if (room.route === "knock") steps.push("knock");
    steps.push("confirm");
    if (Object.keys(room.roomAccountData).length) steps.push("room-data");
    if (room.kind === "dm") steps.push("direct");
    if (room.encrypted) steps.push("keys");
    if (options.movedNotice && room.kind === "dm") steps.push("dm-note");
    if (options.leaveOldRooms && !room.blockers.some((b) => b.blocks === "leave" && b.code !== "hidden-history"))
        steps.push("leave");
    return steps;
}

/** The route part of stepsFor: what the run itself does before it confirms the membership. */
function routeOf(room: RoomPlan, options: MigrationPlan["options"]): RoomStep[] {
    return stepsFor(room, options).filter((step) => ROUTE_BUCKET[step] !== undefined);
}

/** What the dry run says would happen to a room. */
function plannedSteps(room: RoomPlan, options: MigrationPlan["options"]): string[] {
    return stepsFor(room, options).map((step) => {
        if (step === "power") return `power ${room.targetPowerLevel}`;
        if (step === "join") return room.joinAfterSpace ? `join after space ${room.joinAfterSpace}` : "join";
        if (step === "leave") return "leave if the gate opens";
        return step;
    });
}

export function dryRunRoomResult(room: RoomPlan, plan: MigrationPlan): RoomResult {
    const base = { ...baseOf(room), steps: plannedSteps(room, plan.options) };
    if (!room.selected || room.status === "blocked" || room.status === "replaced")
        return { ...notMovedResult(room, base), steps: [] };
    const params = { room: quoteRoom(room) };
    if (room.status === "already") return finish(base, "already", [reason("already", params)]);
    const partial = room.blockers.find((b) => b.blocks === "power");
    if (partial) return finish(base, "needs-action", blockerReasons(room, ["power"]), partial.adminMessage);
    // History the room hides from newcomers: the old account would stay, unless the person accepted that loss.
    const hidden = room.blockers.find((b) => b.code === "hidden-history");
    if (hidden && plan.options.leaveOldRooms) {
        const said = { key: `blocker|${hidden.messageKey}`, params: hidden.params } as Reason;
        if (!plan.options.acceptMissingKeys.includes(room.roomId))
            return finish(base, "needs-action", [reason("dry-run", params), said]);
        return finish(base, "migrated", [reason("dry-run", params), said]);
    }
    return finish(base, "migrated", [reason("dry-run", params)]);
}

function describeError(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** The rate-limited requests a room's pipeline makes when nothing is done yet: what the ETA counts on. */
export function plannedRequests(room: RoomPlan, options: MigrationPlan["options"]): BucketName[] {
    if (!room.selected || room.status !== "ready") return [];
    return routeOf(room, options).map((step) => ROUTE_BUCKET[step]!);
}

/** Whether the room is encrypted now, as the old account's server has it. */
async function encryptedNow(ctx: MigrationContext, roomId: string): Promise<boolean> {
    const path = `/rooms/${seg(roomId)}/state/m.room.encryption/`;
    const state = await orIfNotFound(ctx.read<Record<string, unknown>>("old:read", ctx.sides.old, path), null);
    return state !== null;
}

/** Moves one room. Never throws: a failure becomes the room's outcome, with its reason. */
export async function migrateRoom(ctx: MigrationContext, room: RoomPlan, run: RoomPipelineRun): Promise<RoomResult> {
    const base = baseOf(room);
    if (!room.selected || room.status === "blocked" || room.status === "replaced") return notMovedResult(room, base);
    const steps = base.steps;
    const params = { room: quoteRoom(room) };
    const powerBlocker = room.blockers.find((b) => b.code === "old-cannot-set-power");
    const wanted = room.targetPowerLevel ?? 0;
    // Whether this run changed anything in the room; the live checks may find the plan's work already done.
    let changed = false;
    // The planned requests this room really made; the others are taken back from the ETA when the room ends.
    const made = new Set<BucketName>();
    try {
        if (room.status === "ready") {
            if (room.joinAfterSpace && !(await run.spaceJoined(room.joinAfterSpace))) {
                return finish(base, "needs-action", [reason("space-not-joined", params)]);
            }
            for (const step of routeOf(room, ctx.plan.options)) {
                if (step === "invite") {
                    base.invited = await inviteNewAccount(ctx, room);
                    if (base.invited) made.add("old:invite");
                    changed ||= base.invited;
                    steps.push("invite");
                } else if (step === "power") {
                    if (await raisePowerLevel(ctx, room, room.targetPowerLevel!)) {
                        made.add("old:state");
                        changed = true;
                    }
                    steps.push("power");
                } else if (step === "knock") {
                    await knockNewAccount(ctx, room);
                    made.add("new:join");
                    steps.push("knock");
                    const blocker = room.blockers.find((b) => b.code === "old-cannot-invite");
                    return finish(
                        base,
                        "needs-action",
                        blocker ? blockerReasons(room, ["power"]) : [reason("knocked", params)],
                        blocker?.adminMessage,
                    );
                } else if (step === "join") {
                    if (await joinNewAccount(ctx, room)) {
                        made.add("new:join");
                        changed = true;
                    }
                    steps.push("join");
                }
            }
        }
        // Where the plan knows the level cannot be set, wait for the membership only: the level is the admin's to give.
        const confirmed = await confirmMembership(ctx, room, powerBlocker ? 0 : wanted);
        steps.push("confirm");
        if (!confirmed.joined) return finish(base, "failed", [reason("join-not-confirmed", params)]);
        base.newAccountJoined = true;
        await copyRoomAccountData(ctx, room);
        steps.push("room-data");
        if (room.kind === "dm" && run.markDirect) {
            await run.markDirect(room);
            steps.push("direct");
        }

        // Encryption can be turned on after the plan was made (a run may wait hours): read it now, as the old account.
        const encrypted = room.encrypted || (run.keys !== undefined && (await encryptedNow(ctx, room.roomId)));
        const get =
            (side: "old" | "new") =>
            <T>(path: string, query?: Record<string, string | number | undefined>) =>
                ctx.read<T>(`${side}:read`, ctx.sides[side], path, { query });
        // The old account's timeline, read once: the history audit compares it and the key check takes the session ids
        // of its encrypted messages from it (they exist; a key no source holds is missing).
        const oldView = await readOldAccountView(get("old"), room.roomId).then(
            (view) => ({ view }),
            (e: unknown) => ({ error: describeError(e) }),
        );
        let keys: RoomKeyCheck | undefined;
        if (encrypted && run.keys) {
            keys = await run.keys.checkRoom(
                ctx,
                room.roomId,
                "view" in oldView ? sessionsInView(oldView.view) : { error: oldView.error },
            );
            const check = keys;
            if (check.existing !== null && check.missing === 0 && check.backupVersion) {
                ctx.journal.markRoom(room.roomId, { keys: check.present, kv: check.backupVersion });
            }
            steps.push(`keys ${check.present} of ${check.existing ?? "unknown"}`);
        }
        // The proof of what the new account can read here, as both accounts see the room now.
        let history: HistoryAudit | { error: string };
        try {
            if ("error" in oldView) throw new Error(oldView.error);
            // Re-reads wait on the scheduler's clock (see HISTORY_RETRY_WAITS_MS).
            const clock = { now: () => Date.now(), sleep: (ms: number) => ctx.scheduler.wait(ms) };
            history = await auditHistory(get("old"), get("new"), room.roomId, keys?.backupVersion, clock, oldView.view);
            base.history = history;
            steps.push(
                `history ${history.newSees} of ${history.oldSees} visible, ${history.noKey} without key` +
                    (history.tries ? ` (${history.tries} re-reads)` : ""),
            );
        } catch (e) {
            history = { error: describeError(e) };
        }
        const lossesAccepted = ctx.plan.options.acceptMissingKeys.includes(room.roomId);
        const lostMessages = "error" in history ? 0 : historyLosses(history);
        const keyProblem = keys !== undefined && (keys.existing === null || keys.missing > 0);

        const notes: Reason[] = [];
        if (
            ctx.plan.options.movedNotice &&
            room.kind === "dm" &&
            ctx.journal.journal.rooms[room.roomId]?.n === undefined
        ) {
            if (await sendMovedNote(ctx, room)) steps.push("dm-note");
            else notes.push(reason("note-not-encrypted", params));
        }

        const stayed: Reason[] = [];
        if (ctx.plan.options.leaveOldRooms) {
            await run.beforeLeaving?.();
            let gate;
            try {
                gate = evaluateLeaveGate(await readLeaveFacts(ctx, { ...room, encrypted }, keys, history));
            } catch (e) {
                gate = { open: false, reasons: [reason("stayed-not-read", { error: describeError(e) })] };
            }
            if (gate.open) {
                await leaveOldRoom(ctx, room);
                steps.push("leave");
                base.left = true;
            } else {
                steps.push(`stayed: ${inEnglish(gate.reasons)}`);
                stayed.push(reason("stayed", params), ...gate.reasons);
            }
        }

        base.confirmedPowerLevel = confirmed.level;
        // Outcome first, then what else the user should know: why the old account stayed, what was accepted.
        const keyReasons =
            keyProblem && !lossesAccepted && !stayed.length ? [reason("keys-room", params), ...keys!.reasons] : [];
        const accepted =
            keyProblem && lossesAccepted ? [reason("keys-losses-accepted", { ...params, missing: keys!.missing })] : [];
        // Messages that stay behind matter only when the old account was to leave: staying, it keeps them.
        const historyBlocked = ctx.plan.options.leaveOldRooms && lostMessages > 0 && !lossesAccepted;
        const historyNote = historyBlocked
            ? [reason("history-stays-behind", { ...params, count: lostMessages, roomId: room.roomId })]
            : ctx.plan.options.leaveOldRooms && lostMessages > 0
              ? [reason("history-losses-accepted", { ...params, count: lostMessages })]
              : [];
        const extra = [...stayed, ...keyReasons, ...accepted, ...historyNote, ...notes];
        if (confirmed.level < wanted) {
            if (powerBlocker)
                return finish(
                    base,
                    "needs-action",
                    [...blockerReasons(room, ["power"]), ...extra],
                    powerBlocker.adminMessage,
                );
            return finish(base, "needs-action", [
                reason("level-lower", { ...params, level: confirmed.level, wanted }),
                ...extra,
            ]);
        }
        if ((keyProblem && !lossesAccepted) || historyBlocked) return finish(base, "needs-action", extra);
        // Read right before leaving: the new account's level is now lower than the old account's, or the direct chat
        // is no longer marked as one for it — someone must act (a new run marks it again).
        if (stayed.some((r) => r.key === "reason|stayed-level-lower" || r.key === "reason|stayed-not-direct"))
            return finish(base, "needs-action", extra);
        if (room.status === "already" || !changed)
            return finish(base, "already", [reason("already", params), ...extra]);
        return finish(base, "migrated", extra);
    } catch (e) {
        return finish(base, "failed", [reason("step-failed", { ...params, error: describeError(e) })]);
    } finally {
        for (const bucket of plannedRequests(room, ctx.plan.options))
            if (!made.has(bucket)) ctx.scheduler.expect(bucket, -1);
    }
}
