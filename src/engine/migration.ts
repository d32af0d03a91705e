/**
 * Runs a plan. Every room is a small pipeline of idempotent steps; all pipelines start together and the scheduler
 * paces them, so independent work overlaps (joins of public rooms and account data proceed while invites wait on the
 * new server's limit). Spaces are joined before the restricted rooms they open. Progress is journalled in the old
 * account's account data and the report says, room by room, what happened and why.
 */
import {
    type Profile,
    copyOptionalAccountData,
    copyProfile,
    copyPushRules,
    markOldDisplayNameMoved,
    mergeDirectRooms,
    mergeIgnoredUsers,
    readProfile,
} from "./accountSteps.ts";
import { JournalWriter, type MigrationContext, type MigrationSides, type ProgressEvent, type StepName } from "./context.ts";
import { nowSeconds } from "./journal.ts";
import type { MigrationPlan, RoomPlan } from "./plan.ts";
import type { RuleSet } from "./pushRules.ts";
import {
    type RoomResult,
    confirmMembership,
    copyRoomAccountData,
    inviteNewAccount,
    joinNewAccount,
    knockNewAccount,
    leaveGate,
    leaveOldRoom,
    raisePowerLevel,
    sendMovedNote,
} from "./roomSteps.ts";
import { Scheduler, type WaitNotice } from "./scheduler.ts";
import type { AccountSnapshot } from "./snapshot.ts";
import { serverNameOf } from "./userId.ts";
import { englishTranslate } from "../i18n/index.ts";

export type RoomKeysOutcome = { sessions: number } | { failed: string };

/**
 * The key hand-over (src/keys) plugged into a run: it streams keys in the background from the start, each room
 * waits for it before recording "keys handed over" (what lets the old account leave an encrypted room), and it adds
 * the per-room proof to the report.
 */
export interface KeyHandover {
    start(ctx: MigrationContext, rooms: RoomPlan[]): void;
    roomDone(roomId: string): Promise<RoomKeysOutcome>;
    finish(ctx: MigrationContext): Promise<Record<string, unknown>>;
}

export interface RunOptions {
    dryRun?: boolean;
    onProgress?(event: ProgressEvent): void;
    onWait?(notice: WaitNotice): void;
    scheduler?: Scheduler;
    keys?: KeyHandover;
}

export interface MigrationReport {
    version: 1;
    oldUser: string;
    newUser: string;
    dryRun: boolean;
    startedAt: string;
    finishedAt: string;
    invitesSent: number;
    rooms: RoomResult[];
    pendingInvites: MigrationPlan["pendingInvites"];
    account: {
        profile: string[];
        directChatsMarked: number;
        pushRuleChanges: number;
        ignoredUsersAdded: number;
        settingsCopied: string[];
        movedName: boolean;
    };
    keys?: Record<string, unknown>;
    /** Time spent waiting on servers' limits, by bucket (ms). */
    waits: Record<string, number>;
    errors: string[];
}

/**
 * Exit status for the CLI: 0 all chosen rooms done, 3 finished but something needs the user (rooms blocked, or keys
 * that could not be handed over yet), 1 failures.
 */
export function reportExitCode(report: MigrationReport): 0 | 1 | 3 {
    if (report.errors.length || report.rooms.some((r) => r.outcome === "failed")) return 1;
    if (report.rooms.some((r) => r.outcome === "needs-action") || (report.keys && "error" in report.keys)) return 3;
    return 0;
}

function describeError(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** What the dry run says would happen to a room. */
function plannedSteps(room: RoomPlan, options: MigrationPlan["options"]): string[] {
    const steps: string[] = [];
    if (room.route === "invite") steps.push("invite");
    if (room.targetPowerLevel !== null && !room.blockers.some((b) => b.code === "old-cannot-set-power")) steps.push(`power ${room.targetPowerLevel}`);
    if (room.route === "invite" || room.route === "join") steps.push(room.joinAfterSpace ? `join after space ${room.joinAfterSpace}` : "join");
    if (room.route === "knock") steps.push("knock");
    steps.push("confirm");
    if (Object.keys(room.roomAccountData).length) steps.push("room-data");
    if (room.encrypted) steps.push("keys");
    if (options.leaveOldRooms && !room.blockers.some((b) => b.blocks === "leave")) steps.push("leave");
    if (options.movedNotice && room.kind === "dm") steps.push("dm-note");
    return steps;
}

function blockedResult(room: RoomPlan, base: Omit<RoomResult, "outcome" | "reason">): RoomResult {
    const roomBlockers = room.blockers.filter((b) => b.blocks === "room");
    const first = roomBlockers[0];
    if (room.status === "replaced" || first?.code === "not-federated") {
        return { ...base, outcome: "skipped", reason: roomBlockers.map((b) => b.reason).join(" ") };
    }
    return {
        ...base,
        outcome: "needs-action",
        reason: roomBlockers.map((b) => b.reason).join(" "),
        adminMessage: roomBlockers.find((b) => b.adminMessage)?.adminMessage,
    };
}

export async function runMigration(
    plan: MigrationPlan,
    snapshot: AccountSnapshot,
    sides: MigrationSides,
    options: RunOptions = {},
): Promise<MigrationReport> {
    const dryRun = options.dryRun ?? false;
    const startedAt = new Date();
    const scheduler = options.scheduler ?? new Scheduler();
    let lastProgress: { step: StepName; message: string; room?: { roomId: string; name: string } } | undefined;
    // A wait changes the ETA: tell the caller, then repeat the last progress line with the new ETA.
    const stopListening = scheduler.onWait((notice) => {
        options.onWait?.(notice);
        if (lastProgress) ctx.progress(lastProgress.step, lastProgress.message, lastProgress.room);
    });
    const journal = new JournalWriter(sides.old, sides.new.userId, scheduler, dryRun);
    const chosen = plan.rooms.filter((r) => r.selected);
    let roomsDone = 0;
    let etaExplanation: string | undefined;
    const newServer = serverNameOf(sides.new.userId);

    const ctx: MigrationContext = {
        plan,
        sides,
        scheduler,
        journal,
        dryRun,
        async write(bucket, side, method, path, opts) {
            // The one door for changes: a dry run never gets through it.
            if (dryRun) throw new Error(`Dry run attempted a write: ${method} ${path}`);
            return scheduler.run(bucket, () => side.http.request(method, path, opts));
        },
        writeWith(bucket, change) {
            if (dryRun) throw new Error("Dry run attempted a write");
            return scheduler.run(bucket, change);
        },
        read(bucket, side, path, opts) {
            return scheduler.run(bucket, () => side.http.request("GET", path, opts));
        },
        progress(step: StepName, message: string, room?: { roomId: string; name: string }) {
            lastProgress = { step, message, room };
            const eta = scheduler.eta();
            if (eta.inviteLimited) etaExplanation = englishTranslate("progress|invite_limited", { server: newServer });
            options.onProgress?.({
                step,
                message,
                roomId: room?.roomId,
                roomName: room?.name,
                roomsDone,
                roomsTotal: chosen.length,
                etaMs: eta.ms,
                etaExplanation,
            });
        },
    };

    await journal.load();
    const errors: string[] = [];
    const oldProfile: Profile = await readProfile(ctx, sides.old);

    // Keys go for the chosen encrypted rooms the new account will be in.
    const keyRooms = chosen.filter((r) => r.encrypted && (r.status === "ready" || r.status === "already"));
    options.keys?.start(ctx, keyRooms);

    if (dryRun) {
        const rooms = plan.rooms.map((room) => dryRunResult(room, plan));
        const keys = options.keys ? await options.keys.finish(ctx) : undefined;
        return finishReport({ rooms, profile: [], direct: 0, pushRules: 0, ignored: 0, settings: [], moved: false, invitesSent: 0, keys });
    }

    // Expected requests per bucket, so the ETA is meaningful from the start: until the servers show their own pace,
    // assume Synapse's defaults for what usually binds (invites received: 5, then one per 333 s; joins to rooms the
    // new server is not in yet: 10, then one per 100 s).
    const ready = chosen.filter((r) => r.status === "ready");
    scheduler.expect("old:invite", ready.filter((r) => r.route === "invite").length, { free: 5, intervalMs: 333_000 });
    const remoteJoins = ready.filter((r) => r.route !== "none").length;
    scheduler.expect("new:join", remoteJoins, serverNameOf(sides.old.userId) === newServer ? undefined : { free: 10, intervalMs: 100_000 });
    scheduler.expect("old:state", ready.filter((r) => r.targetPowerLevel !== null).length);

    // The profile goes first: rooms then see the new account with its name and avatar from its first event.
    let profileChanges: string[] = [];
    try {
        profileChanges = await copyProfile(ctx, oldProfile);
    } catch (e) {
        errors.push(`Profile: ${describeError(e)}`);
    }

    const joined = new Map<string, Promise<boolean>>();
    const resultOf = new Map<string, Promise<RoomResult>>();
    for (const room of plan.rooms) {
        const result = migrateRoom(room);
        resultOf.set(room.roomId, result);
        joined.set(room.roomId, result.then((r) => r.outcome === "migrated" || r.outcome === "already"));
    }

    const accountWork = (async () => {
        const out = { pushRules: 0, ignored: 0, settings: [] as string[] };
        const chosenIds = new Set(chosen.filter((r) => r.status !== "replaced").map((r) => r.roomId));
        try {
            out.pushRules = await copyPushRules(ctx, ((snapshot.accountData["m.push_rules"]?.global ?? {}) as RuleSet), (id) => chosenIds.has(id));
        } catch (e) {
            errors.push(`Notification rules: ${describeError(e)}`);
        }
        try {
            out.ignored = await mergeIgnoredUsers(ctx, snapshot.accountData["m.ignored_user_list"]);
        } catch (e) {
            errors.push(`Ignored users: ${describeError(e)}`);
        }
        try {
            out.settings = await copyOptionalAccountData(ctx, snapshot.accountData, plan.optionalAccountData.filter((o) => o.selected).map((o) => o.type));
        } catch (e) {
            errors.push(`Settings: ${describeError(e)}`);
        }
        return out;
    })();

    const rooms = await Promise.all(plan.rooms.map((r) => resultOf.get(r.roomId)!));
    const account = await accountWork;

    let direct = 0;
    try {
        const dms = rooms
            .filter((r) => r.kind === "dm" && (r.outcome === "migrated" || r.outcome === "already"))
            .map((r) => ({ roomId: r.roomId, partners: plan.rooms.find((p) => p.roomId === r.roomId)!.dmPartners }));
        direct = await mergeDirectRooms(ctx, dms);
    } catch (e) {
        errors.push(`Direct chats: ${describeError(e)}`);
    }

    let moved = false;
    if (plan.options.movedNotice) {
        try {
            await markOldDisplayNameMoved(ctx, oldProfile);
            moved = true;
        } catch (e) {
            errors.push(`“Moved” display name: ${describeError(e)}`);
        }
    }

    let keys: Record<string, unknown> | undefined;
    if (options.keys) {
        try {
            keys = await options.keys.finish(ctx);
        } catch (e) {
            errors.push(`Key hand-over: ${describeError(e)}`);
        }
    }
    journal.update((j) => (j.finishedAt = nowSeconds()));
    try {
        await journal.flush();
    } catch (e) {
        errors.push(`Saving progress: ${describeError(e)}`);
    }
    return finishReport({
        rooms,
        profile: profileChanges,
        direct,
        pushRules: account.pushRules,
        ignored: account.ignored,
        settings: account.settings,
        moved,
        invitesSent: rooms.filter((r) => r.invited).length,
        keys,
    });

    async function migrateRoom(room: RoomPlan): Promise<RoomResult> {
        const base = { roomId: room.roomId, name: room.name, kind: room.kind, steps: [] as string[], invited: false, left: false };
        if (!room.selected) return { ...base, outcome: "skipped", reason: room.status === "replaced" ? room.blockers[0]?.reason ?? "Replaced" : "Not chosen" };
        if (room.status === "blocked" || room.status === "replaced") return blockedResult(room, base);
        const steps = base.steps;
        // Whether this run changed anything in the room; the live checks may find the plan's work already done.
        let changed = false;
        try {
            if (room.status === "ready") {
                if (room.joinAfterSpace && !(await joined.get(room.joinAfterSpace))) {
                    return { ...base, outcome: "needs-action", reason: "The space that lets the new account join this room could not be joined first." };
                }
                if (room.route === "invite") {
                    base.invited = await inviteNewAccount(ctx, room);
                    changed ||= base.invited;
                    steps.push("invite");
                }
                if (room.targetPowerLevel !== null && !room.blockers.some((b) => b.code === "old-cannot-set-power")) {
                    changed = (await raisePowerLevel(ctx, room, room.targetPowerLevel)) || changed;
                    steps.push("power");
                }
                if (room.route === "knock") {
                    await knockNewAccount(ctx, room);
                    steps.push("knock");
                    const blocker = room.blockers.find((b) => b.code === "old-cannot-invite");
                    return { ...base, outcome: "needs-action", reason: blocker?.reason ?? "Knocked; waiting for an admin.", adminMessage: blocker?.adminMessage };
                }
                if (room.route === "invite" || room.route === "join") {
                    changed = (await joinNewAccount(ctx, room)) || changed;
                    steps.push("join");
                }
            }
            const confirmed = await confirmMembership(ctx, room);
            steps.push("confirm");
            if (!confirmed.joined) return { ...base, outcome: "failed", reason: "The new account's join could not be confirmed." };
            await copyRoomAccountData(ctx, room);
            steps.push("room-data");
            if (room.encrypted && options.keys) {
                const keys = await options.keys.roomDone(room.roomId);
                if ("sessions" in keys) {
                    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).keys = keys.sessions));
                    steps.push(`keys ${keys.sessions}`);
                } else steps.push(`keys not handed over: ${keys.failed}`);
            }
            const powerBlocker = room.blockers.find((b) => b.code === "old-cannot-set-power");
            const wanted = room.targetPowerLevel ?? 0;
            if (plan.options.movedNotice && room.kind === "dm" && ctx.journal.journal.rooms[room.roomId]?.n === undefined) {
                await sendMovedNote(ctx, room);
                steps.push("dm-note");
            }
            if (plan.options.leaveOldRooms) {
                const gate = leaveGate(ctx, room);
                if (gate.open) {
                    await leaveOldRoom(ctx, room);
                    steps.push("leave");
                    base.left = true;
                } else steps.push(`stayed: ${gate.why}`);
            }
            const result: RoomResult = { ...base, confirmedPowerLevel: confirmed.level, outcome: "migrated", reason: "" };
            if (powerBlocker) return { ...result, outcome: "needs-action", reason: powerBlocker.reason, adminMessage: powerBlocker.adminMessage };
            if (confirmed.level < wanted) return { ...result, outcome: "needs-action", reason: `The new account has level ${confirmed.level}, not ${wanted}.` };
            if (room.status === "already" || !changed) return { ...result, outcome: "already", reason: "The new account was already in this room with the right level." };
            return result;
        } catch (e) {
            return { ...base, outcome: "failed", reason: describeError(e) };
        } finally {
            roomsDone++;
            ctx.progress("confirm", `${room.name}: done`, room);
        }
    }

    function dryRunResult(room: RoomPlan, p: MigrationPlan): RoomResult {
        const base = { roomId: room.roomId, name: room.name, kind: room.kind, steps: plannedSteps(room, p.options), invited: false, left: false };
        if (!room.selected) return { ...base, steps: [], outcome: "skipped", reason: room.status === "replaced" ? room.blockers[0]?.reason ?? "" : "Not chosen" };
        if (room.status === "blocked" || room.status === "replaced") return { ...blockedResult(room, base), steps: [] };
        if (room.status === "already") return { ...base, outcome: "already", reason: "The new account is already in this room with the right level." };
        const partial = room.blockers.find((b) => b.blocks === "power");
        if (partial) return { ...base, outcome: "needs-action", reason: partial.reason, adminMessage: partial.adminMessage };
        return { ...base, outcome: "migrated", reason: "Dry run: would be migrated." };
    }

    function finishReport(parts: {
        rooms: RoomResult[];
        profile: string[];
        direct: number;
        pushRules: number;
        ignored: number;
        settings: string[];
        moved: boolean;
        invitesSent: number;
        keys?: Record<string, unknown>;
    }): MigrationReport {
        stopListening();
        const waits = Object.fromEntries(Object.entries(scheduler.stats()).map(([k, v]) => [k, v.limitedWaitMs]));
        return {
            version: 1,
            oldUser: sides.old.userId,
            newUser: sides.new.userId,
            dryRun,
            startedAt: startedAt.toISOString(),
            finishedAt: new Date().toISOString(),
            invitesSent: parts.invitesSent,
            rooms: parts.rooms,
            pendingInvites: plan.pendingInvites,
            account: {
                profile: parts.profile,
                directChatsMarked: parts.direct,
                pushRuleChanges: parts.pushRules,
                ignoredUsersAdded: parts.ignored,
                settingsCopied: parts.settings,
                movedName: parts.moved,
            },
            keys: parts.keys,
            waits,
            errors,
        };
    }
}

