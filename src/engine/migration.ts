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
    profileBeforeMove,
    readProfile,
} from "./accountSteps.ts";
import {
    JournalWriter,
    type MigrationContext,
    type MigrationSides,
    type ProgressEvent,
    type StepName,
} from "./context.ts";
import { nowSeconds } from "./journal.ts";
import type { HistoryExportRecord } from "./historyExport.ts";
import type { KeyHandover, KeysReport } from "./keyHandover.ts";
import type { MigrationPlan, RoomPlan } from "./plan.ts";
import type { RuleSet } from "./pushRules.ts";
import { dryRunRoomResult, migrateRoom, plannedRequests } from "./roomPipeline.ts";
import type { RoomResult } from "./roomSteps.ts";
import { type BucketName, Scheduler, type WaitNotice } from "./scheduler.ts";
import type { AccountSnapshot } from "./snapshot.ts";
import { serverNameOf } from "./userId.ts";
import { englishTranslate } from "../i18n/index.ts";

export type { KeyHandover } from "./keyHandover.ts";

export interface RunOptions {
    dryRun?: boolean;
    onProgress?(event: ProgressEvent): void;
    onWait?(notice: WaitNotice): void;
    scheduler?: Scheduler;
    keys?: KeyHandover;
    /** Written with the journal's heartbeat (see MigrationJournal.heartbeatRunner). */
    heartbeatRunner?: string;
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
    keys?: KeysReport;
    /** What was kept of the history the new account won't see, written before anything changed (historyExport.ts). */
    historyExports?: HistoryExportRecord[];
    /** Time spent waiting on servers' limits, by bucket (ms). */
    waits: Record<string, number>;
    errors: string[];
}

/**
 * Exit status for the CLI: 0 all chosen rooms done, 3 finished but something needs the user (rooms blocked, or an
 * encrypted room whose keys are not all in the new backup — each such room is "needs-action"), 1 failures. A key
 * problem that touches no chosen encrypted room (e.g. no new backup, and nothing encrypted) needs nothing; a key
 * hand-over that stopped part way always needs the person (run it again).
 */
export function reportExitCode(report: MigrationReport): 0 | 1 | 3 {
    if (report.errors.length || report.rooms.some((r) => r.outcome === "failed")) return 1;
    if (report.rooms.some((r) => r.outcome === "needs-action") || report.keys?.handOverError) return 3;
    return 0;
}

function describeError(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** Parents before the rooms they open: a room restricted to a space starts after that space's pipeline. */
function parentsFirst(rooms: RoomPlan[]): RoomPlan[] {
    const byId = new Map(rooms.map((r) => [r.roomId, r]));
    const placed = new Set<string>();
    const out: RoomPlan[] = [];
    const place = (room: RoomPlan, path: Set<string>) => {
        if (placed.has(room.roomId) || path.has(room.roomId)) return;
        const parent = room.joinAfterSpace ? byId.get(room.joinAfterSpace) : undefined;
        if (parent) place(parent, new Set([...path, room.roomId]));
        placed.add(room.roomId);
        out.push(room);
    };
    for (const room of rooms) place(room, new Set());
    return out;
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
    // The rooms progress counts: chosen and movable (blocked ones are reported, not worked on).
    const movable = chosen.filter((r) => r.status === "ready" || r.status === "already");
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
                roomsTotal: movable.length,
                etaMs: eta.ms,
                etaExplanation,
            });
        },
    };

    await journal.load();
    const errors: string[] = [];
    const oldProfile: Profile = await readProfile(ctx, sides.old);

    // Keys go for the chosen encrypted rooms the new account will be in.
    const keyRooms = movable.filter((r) => r.encrypted);
    options.keys?.start(ctx, keyRooms);

    if (dryRun) {
        const rooms = plan.rooms.map((room) => dryRunRoomResult(room, plan));
        const keys = options.keys ? await options.keys.finish(ctx) : undefined;
        return finishReport({
            rooms,
            profile: [],
            direct: 0,
            pushRules: 0,
            ignored: 0,
            settings: [],
            moved: false,
            invitesSent: 0,
            keys,
        });
    }

    // Under way: the journal says so every 30 s (a page elsewhere shows it as running, not as interrupted), until
    // the run ends however it ends.
    if (sides.old.deviceId) journal.startHeartbeat(sides.old.deviceId, options.heartbeatRunner);
    try {
        // Expected requests per bucket, so the ETA is meaningful from the start: until the servers show their own pace,
        // assume Synapse's defaults for what usually binds (invites received: 5, then one per 333 s; joins to rooms the
        // new server is not in yet: 10, then one per 100 s).
        const planned = plan.rooms.flatMap(plannedRequests);
        const count = (bucket: BucketName) => planned.filter((b) => b === bucket).length;
        scheduler.expect("old:invite", count("old:invite"), { free: 5, intervalMs: 333_000 });
        scheduler.expect(
            "new:join",
            count("new:join"),
            serverNameOf(sides.old.userId) === newServer ? undefined : { free: 10, intervalMs: 100_000 },
        );
        scheduler.expect("old:state", count("old:state"));

        // The profile goes first: rooms then see the new account with its name and avatar from its first event.
        let profileChanges: string[] = [];
        try {
            profileChanges = await copyProfile(ctx, profileBeforeMove(oldProfile, sides.new.userId));
        } catch (e) {
            errors.push(`Profile: ${describeError(e)}`);
        }

        // Every room's result is a promise known before any pipeline starts, so a room restricted to a space can wait for
        // that space whatever order the plan lists them in; pipelines start parents first.
        const resultOf = new Map<string, { promise: Promise<RoomResult>; resolve(r: RoomResult): void }>();
        for (const room of plan.rooms) {
            let resolve!: (r: RoomResult) => void;
            resultOf.set(room.roomId, { promise: new Promise<RoomResult>((r) => (resolve = r)), resolve });
        }
        const spaceJoined = async (spaceId: string) => {
            return (await resultOf.get(spaceId)?.promise)?.newAccountJoined === true;
        };

        // What a room carries beyond itself is on the new account before the old account leaves it: its entry in
        // m.direct (merged as soon as the room is confirmed, one merge at a time) and its notification rules (the
        // account-wide copy). Left for later, a run stopped in between would lose them: a resumed run plans only the
        // rooms the old account is still in.
        const chosenIds = new Set(chosen.filter((r) => r.status !== "replaced").map((r) => r.roomId));
        const pushRules = copyPushRules(ctx, (snapshot.accountData["m.push_rules"]?.global ?? {}) as RuleSet, (id) =>
            chosenIds.has(id),
        );
        pushRules.catch((e: unknown) => errors.push(`Notification rules: ${describeError(e)}`));
        let direct = 0;
        let directQueue: Promise<unknown> = Promise.resolve();
        const markDirect = (room: RoomPlan) => {
            const marked = directQueue.then(() =>
                mergeDirectRooms(ctx, [{ roomId: room.roomId, partners: room.dmPartners }]),
            );
            directQueue = marked.catch(() => undefined);
            return marked.then((added) => void (direct += added));
        };
        const beforeLeaving = async () => {
            try {
                await pushRules;
            } catch (e) {
                throw new Error(
                    `the notification rules were not copied, so the old account stays (${describeError(e)})`,
                );
            }
        };
        for (const room of parentsFirst(plan.rooms)) {
            void migrateRoom(ctx, room, { keys: options.keys, spaceJoined, markDirect, beforeLeaving }).then(
                (result) => {
                    if (room.selected && (room.status === "ready" || room.status === "already")) {
                        roomsDone++;
                        ctx.progress("confirm", `${room.name}: done`, room);
                    }
                    resultOf.get(room.roomId)!.resolve(result);
                },
                (e: unknown) => {
                    // migrateRoom turns every failure into the room's outcome; should anything escape, the run still ends.
                    errors.push(`${room.name}: ${describeError(e)}`);
                    resultOf.get(room.roomId)!.resolve({
                        roomId: room.roomId,
                        name: room.name,
                        kind: room.kind,
                        outcome: "failed",
                        reasons: [],
                        reason: describeError(e),
                        steps: [],
                        invited: false,
                        newAccountJoined: false,
                        left: false,
                    });
                },
            );
        }

        const accountWork = (async () => {
            const out = { pushRules: await pushRules.catch(() => 0), ignored: 0, settings: [] as string[] };
            try {
                out.ignored = await mergeIgnoredUsers(ctx, snapshot.accountData["m.ignored_user_list"]);
            } catch (e) {
                errors.push(`Ignored users: ${describeError(e)}`);
            }
            try {
                out.settings = await copyOptionalAccountData(
                    ctx,
                    snapshot.accountData,
                    plan.optionalAccountData.filter((o) => o.scope === "account" && o.selected).map((o) => o.type),
                );
            } catch (e) {
                errors.push(`Settings: ${describeError(e)}`);
            }
            return out;
        })();

        const rooms = await Promise.all(plan.rooms.map((r) => resultOf.get(r.roomId)!.promise));
        const account = await accountWork;

        let moved = false;
        if (plan.options.movedNotice) {
            try {
                await markOldDisplayNameMoved(ctx, oldProfile);
                moved = true;
            } catch (e) {
                errors.push(`“Moved” display name: ${describeError(e)}`);
            }
        }

        let keys: KeysReport | undefined;
        if (options.keys) {
            try {
                keys = await options.keys.finish(ctx);
            } catch (e) {
                errors.push(`Key hand-over: ${describeError(e)}`);
            }
        }
        journal.stopHeartbeat();
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
    } finally {
        journal.stopHeartbeat();
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
        keys?: KeysReport;
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
