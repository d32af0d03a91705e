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
import type { MigrationContext, MigrationSides, ProgressEvent, StepName } from "./context.ts";
import { JournalWriter } from "./journalStore.ts";
import { nowSeconds } from "./journal.ts";
import type { HistoryExportRecord } from "./historyExport.ts";
import type { KeyHandover, KeysReport } from "./keyHandover.ts";
import { type MigrationPlan, type RoomPlan, isMovable } from "./plan.ts";
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

/** The account-wide part of the report: what every phase fills in, all zero before anything ran (the dry run). */
export type AccountOutcome = MigrationReport["account"];

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

/** What one run shares across its phases: the context the steps use, the collected errors, the room counter. */
interface Run {
    plan: MigrationPlan;
    snapshot: AccountSnapshot;
    sides: MigrationSides;
    options: RunOptions;
    ctx: MigrationContext;
    journal: JournalWriter;
    scheduler: Scheduler;
    /** Chosen and movable: the rooms progress counts (blocked ones are reported, not worked on). */
    movable: RoomPlan[];
    /** One line per account-wide failure, in the order they happened. */
    errors: string[];
    startedAt: Date;
    roomsDone: number;
    stopListening(): void;
}

/** What the phases of a run produce; the report is made of it. */
interface RunOutcome {
    rooms: RoomResult[];
    account: AccountOutcome;
    keys?: KeysReport;
}

export function emptyAccountOutcome(): AccountOutcome {
    return {
        profile: [],
        directChatsMarked: 0,
        pushRuleChanges: 0,
        ignoredUsersAdded: 0,
        settingsCopied: [],
        movedName: false,
    };
}

/**
 * The account-wide steps beside the rooms, run one after another once the notification rules are copied (those go
 * first: a room's leave waits on them). Adding such a step is one entry here: its label for the errors and the part
 * of the report it fills.
 */
const ACCOUNT_STEPS: Array<{ label: string; run(run: Run): Promise<Partial<AccountOutcome>> }> = [
    {
        label: "Ignored users",
        run: async ({ ctx, snapshot }) => ({
            ignoredUsersAdded: await mergeIgnoredUsers(ctx, snapshot.accountData["m.ignored_user_list"]),
        }),
    },
    {
        label: "Settings",
        run: async ({ ctx, snapshot, plan }) => ({
            settingsCopied: await copyOptionalAccountData(
                ctx,
                snapshot.accountData,
                plan.optionalAccountData.filter((o) => o.scope === "account" && o.selected).map((o) => o.type),
            ),
        }),
    },
];

export async function runMigration(
    plan: MigrationPlan,
    snapshot: AccountSnapshot,
    sides: MigrationSides,
    options: RunOptions = {},
): Promise<MigrationReport> {
    const run = startRun(plan, snapshot, sides, options);
    await run.journal.load();
    const oldProfile: Profile = await readProfile(run.ctx, sides.old);

    // Keys go for the chosen encrypted rooms the new account will be in.
    options.keys?.start(
        run.ctx,
        run.movable.filter((r) => r.encrypted),
    );

    if (run.ctx.dryRun) {
        const rooms = plan.rooms.map((room) => dryRunRoomResult(room, plan));
        const keys = options.keys ? await options.keys.finish(run.ctx) : undefined;
        return report(run, { rooms, account: emptyAccountOutcome(), keys });
    }

    // Under way: the journal says so every 30 s (a page elsewhere shows it as running, not as interrupted), until
    // the run ends however it ends.
    if (sides.old.deviceId) run.journal.startHeartbeat(sides.old.deviceId, options.heartbeatRunner);
    try {
        expectPlannedRequests(run);
        const account = emptyAccountOutcome();
        account.profile = await profilePhase(run, oldProfile);
        const { rooms, directChatsMarked, pushRuleChanges, accountWork } = roomsPhase(run);
        const results = await rooms;
        Object.assign(account, await accountWork, { directChatsMarked: directChatsMarked() });
        account.pushRuleChanges = await pushRuleChanges;
        account.movedName = await movedNamePhase(run, oldProfile);
        const keys = await keysFinishPhase(run);
        await journalFinishPhase(run);
        return report(run, { rooms: results, account, keys });
    } finally {
        run.journal.stopHeartbeat();
    }
}

/** The context every step of this run acts through, with the progress line and the ETA it carries. */
function startRun(plan: MigrationPlan, snapshot: AccountSnapshot, sides: MigrationSides, options: RunOptions): Run {
    const dryRun = options.dryRun ?? false;
    const scheduler = options.scheduler ?? new Scheduler();
    let lastProgress: { step: StepName; message: string; room?: { roomId: string; name: string } } | undefined;
    // A wait changes the ETA: tell the caller, then repeat the last progress line with the new ETA.
    const stopListening = scheduler.onWait((notice) => {
        options.onWait?.(notice);
        if (lastProgress) ctx.progress(lastProgress.step, lastProgress.message, lastProgress.room);
    });
    const journal = new JournalWriter(sides.old, sides.new.userId, scheduler, dryRun);
    const movable = plan.rooms.filter((r) => r.selected && isMovable(r));
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
                roomsDone: run.roomsDone,
                roomsTotal: movable.length,
                etaMs: eta.ms,
                etaExplanation,
            });
        },
    };
    const run: Run = {
        plan,
        snapshot,
        sides,
        options,
        ctx,
        journal,
        scheduler,
        movable,
        errors: [],
        startedAt: new Date(),
        roomsDone: 0,
        stopListening,
    };
    return run;
}

/**
 * Expected requests per bucket, so the ETA is meaningful from the start: until the servers show their own pace,
 * assume Synapse's defaults for what usually binds (invites received: 5, then one per 333 s; joins to rooms the new
 * server is not in yet: 10, then one per 100 s).
 */
function expectPlannedRequests({ plan, sides, scheduler }: Run): void {
    const planned = plan.rooms.flatMap((room) => plannedRequests(room, plan.options));
    const count = (bucket: BucketName) => planned.filter((b) => b === bucket).length;
    scheduler.expect("old:invite", count("old:invite"), { free: 5, intervalMs: 333_000 });
    scheduler.expect(
        "new:join",
        count("new:join"),
        serverNameOf(sides.old.userId) === serverNameOf(sides.new.userId)
            ? undefined
            : { free: 10, intervalMs: 100_000 },
    );
    scheduler.expect("old:state", count("old:state"));
}

/** The profile goes first: rooms then see the new account with its name and avatar from its first event. */
async function profilePhase(run: Run, oldProfile: Profile): Promise<string[]> {
    try {
        return await copyProfile(run.ctx, profileBeforeMove(oldProfile, run.sides.new.userId));
    } catch (e) {
        run.errors.push(`Profile: ${describeError(e)}`);
        return [];
    }
}

/**
 * Every room's pipeline, all started together (parents first), with the account-wide work beside them: the
 * notification rules first (a room's leave waits on them), then ACCOUNT_STEPS.
 */
function roomsPhase(run: Run): {
    rooms: Promise<RoomResult[]>;
    directChatsMarked(): number;
    pushRuleChanges: Promise<number>;
    accountWork: Promise<Partial<AccountOutcome>>;
} {
    const { ctx, plan, snapshot, options, errors } = run;
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
    const chosenIds = new Set(plan.rooms.filter((r) => r.selected && r.status !== "replaced").map((r) => r.roomId));
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
            throw new Error(`the notification rules were not copied, so the old account stays (${describeError(e)})`);
        }
    };
    for (const room of parentsFirst(plan.rooms)) {
        void migrateRoom(ctx, room, { keys: options.keys, spaceJoined, markDirect, beforeLeaving }).then(
            (result) => {
                if (room.selected && isMovable(room)) {
                    run.roomsDone++;
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

    const pushRuleChanges = pushRules.catch(() => 0);
    const accountWork = (async () => {
        await pushRuleChanges;
        const out: Partial<AccountOutcome> = {};
        for (const step of ACCOUNT_STEPS) {
            try {
                Object.assign(out, await step.run(run));
            } catch (e) {
                errors.push(`${step.label}: ${describeError(e)}`);
            }
        }
        return out;
    })();

    return {
        rooms: Promise.all(plan.rooms.map((r) => resultOf.get(r.roomId)!.promise)),
        directChatsMarked: () => direct,
        pushRuleChanges,
        accountWork,
    };
}

/** Once every room is done: the old account's display name says it moved, when chosen. */
async function movedNamePhase(run: Run, oldProfile: Profile): Promise<boolean> {
    if (!run.plan.options.movedNotice) return false;
    try {
        await markOldDisplayNameMoved(run.ctx, oldProfile);
        return true;
    } catch (e) {
        run.errors.push(`“Moved” display name: ${describeError(e)}`);
        return false;
    }
}

/** The key hand-over's last word: what reached the new backup. */
async function keysFinishPhase(run: Run): Promise<KeysReport | undefined> {
    if (!run.options.keys) return undefined;
    try {
        return await run.options.keys.finish(run.ctx);
    } catch (e) {
        run.errors.push(`Key hand-over: ${describeError(e)}`);
        return undefined;
    }
}

/** The journal says the run finished, and is saved. */
async function journalFinishPhase({ journal, errors }: Run): Promise<void> {
    journal.stopHeartbeat();
    journal.update((j) => (j.finishedAt = nowSeconds()));
    try {
        await journal.flush();
    } catch (e) {
        errors.push(`Saving progress: ${describeError(e)}`);
    }
}

function report(run: Run, outcome: RunOutcome): MigrationReport {
    run.stopListening();
    const waits = Object.fromEntries(Object.entries(run.scheduler.stats()).map(([k, v]) => [k, v.limitedWaitMs]));
    return {
        version: 1,
        oldUser: run.sides.old.userId,
        newUser: run.sides.new.userId,
        dryRun: run.ctx.dryRun,
        startedAt: run.startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        invitesSent: outcome.rooms.filter((r) => r.invited).length,
        rooms: outcome.rooms,
        pendingInvites: run.plan.pendingInvites,
        account: outcome.account,
        keys: outcome.keys,
        waits,
        errors: run.errors,
    };
}
