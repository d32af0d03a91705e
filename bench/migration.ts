/**
 * Benchmark of a whole migration against two real Synapse servers with Synapse's DEFAULT rate limits, their rates
 * scaled by one factor and their bursts real (not a test: it prints figures and ratios, it asserts nothing).
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/migration.ts [--rooms N] [--scale S] [--public-share F] [--pre-invites K]
 *                                                               [--receiving-stricter] [--port-base P] [--build-concurrency C]
 *
 * 1. Starts servers A and B (ports from --port-base, default MIGRATE_BED_PORT_BASE or 9780) with the default limits,
 *    rates × S, and prints the ones a migration meets.
 * 2. Builds the reference account (bench/referenceAccount.ts): `alice` on A with N rooms of a realistic mix, and an
 *    empty new account on B.
 *    With --pre-invites K, someone on B (not exempt) invites the new account to K rooms just before the migration.
 *    With --receiving-stricter, A lets its users invite freely (rc_invites.per_user lifted on A only), so only B's
 *    limit on invites received binds: B refuses the invites over it and A answers 502 — the engine's "invite refused"
 *    path. (With the same limits on both servers, A enforces the invitee's limit itself and answers 429.)
 * 3. Plans and runs the migration with the engine's Scheduler, recording every wait it reports, every request that
 *    reaches the servers, and the ETA twice a second.
 * 4. Prints the wall time, invites, joins, waits per bucket, the theoretical floor that the servers' limits impose
 *    and the ratio wall / floor, the ETA's accuracy at 25/50/75 % of the run, and peak memory of this process.
 * 5. Prints what a naive "invite the new account everywhere" strategy would have needed, at this scale and at
 *    Synapse's real defaults, to show what the fewest-invites routing saves.
 *
 * `benchMigration` runs the same and returns the figures (bench/run.ts, `npm run bench`).
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

import type { AccountSession } from "../src/engine/context.ts";
import { type MigrationReport, runMigration } from "../src/engine/migration.ts";
import { type MigrationPlan, buildPlan, invitesNeeded } from "../src/engine/plan.ts";
import { type BucketName, Scheduler, type WaitNotice } from "../src/engine/scheduler.ts";
import { type AccountSnapshot, RoomState } from "../src/engine/snapshot.ts";
import { MatrixHttp } from "../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../src/sessions/snapshots.ts";
import { type Bed, startHomeservers } from "../tests/bed/homeservers.ts";
import { type Limit, type LimitsProfile, effectiveRateLimits } from "../tests/bed/rateLimits.ts";
import { SYNAPSE_VERSION } from "../tests/bed/synapseInstall.ts";
import { type ReferenceAccount, buildReferenceAccount, serverOf } from "./referenceAccount.ts";

// ---------------------------------------------------------------------------------------------------------------
// Options

export interface MigrationBenchOptions {
    rooms: number;
    scale: number;
    publicShare: number;
    preInvites: number;
    receivingStricter: boolean;
    portBase: number;
    buildConcurrency: number;
}

const USAGE =
    "usage: tsx bench/migration.ts [--rooms N (>= 10)] [--scale S] [--public-share 0..0.6] [--pre-invites K] [--receiving-stricter] [--port-base P] [--build-concurrency C]";

function parseOptions(argv: string[]): MigrationBenchOptions {
    const value = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const options: MigrationBenchOptions = {
        rooms: Number(value("--rooms") ?? 30),
        scale: Number(value("--scale") ?? 20),
        publicShare: Number(value("--public-share") ?? 0.2),
        preInvites: Number(value("--pre-invites") ?? 0),
        receivingStricter: argv.includes("--receiving-stricter"),
        portBase: Number(value("--port-base") ?? process.env.MIGRATE_BED_PORT_BASE ?? 9780),
        buildConcurrency: Number(value("--build-concurrency") ?? 4),
    };
    if (
        argv.includes("--help") ||
        !(options.rooms >= 10) ||
        !(options.scale > 0) ||
        !(options.publicShare >= 0 && options.publicShare <= 0.6) ||
        !(options.preInvites >= 0)
    ) {
        console.error(USAGE);
        process.exit(2);
    }
    return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Small formatting helpers

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "n/a (floor 0)");
const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);
const hms = (s: number) =>
    s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`;

// ---------------------------------------------------------------------------------------------------------------
// Rate limits as the servers run them

/** The servers' profiles: Synapse's defaults, rates × scale; with receivingStricter, A lets its users invite freely. */
function serverLimits(options: Pick<MigrationBenchOptions, "scale" | "receivingStricter">): {
    a: LimitsProfile;
    b: LimitsProfile;
} {
    const b: LimitsProfile = { kind: "default", scale: options.scale };
    const a: LimitsProfile = options.receivingStricter
        ? { ...b, overrides: { "rc_invites.per_user": { per_second: 1000, burst_count: 100_000 } } }
        : b;
    return { a, b };
}

/** The limits a migration meets, as the receiving server (B) enforces them (the binding side for invites). */
function effectiveLimits(scale: number): Record<string, Limit> {
    const all = effectiveRateLimits({ kind: "default", scale });
    const names = [
        "rc_invites.per_user",
        "rc_invites.per_issuer",
        "rc_invites.per_room",
        "rc_joins.remote",
        "rc_joins.local",
        "rc_joins_per_room",
        "rc_message",
        "rc_room_creation",
    ];
    return Object.fromEntries(names.map((n) => [n, all[n]!]));
}

/** Seconds a token bucket needs for n actions started at once: the burst is free, then one per 1/per_second. */
function bucketFloorSeconds(n: number, limit: Limit): number {
    return Math.max(0, n - limit.burst_count) / limit.per_second;
}

interface Demand {
    invites: number;
    joins: number;
    remoteJoins: number;
    localJoins: number;
    powerChanges: number;
}

interface FloorTerm {
    what: string;
    limit: string;
    n: number;
    seconds: number;
}

/**
 * What Synapse's limiters impose on a plan, each independently (they run side by side, so the floor is the largest).
 * - Invites to one user: checked by the inviting server (per recipient, keyed on the invitee) AND the receiving one.
 * - Invites by one user (per issuer), and every event the old account sends (invites and power levels: rc_message).
 * - Joins by the new account: every join counts for rc_joins.local, remote ones also for rc_joins.remote; joins to
 *   rooms its server is already in are local events of the new account (rc_message).
 */
function floorTerms(d: Demand, limits: Record<string, Limit>, pre?: PreInvites): FloorTerm[] {
    const term = (what: string, limit: string, n: number): FloorTerm => ({
        what,
        limit,
        n,
        seconds: bucketFloorSeconds(n, limits[limit]!),
    });
    const terms = [
        term("invites received by the new account", "rc_invites.per_user", d.invites),
        term("invites sent by the old account", "rc_invites.per_issuer", d.invites),
        term("events by the old account (invites + power levels)", "rc_message", d.invites + d.powerChanges),
        term("joins by the new account (all)", "rc_joins.local", d.joins),
        term("joins by the new account (remote)", "rc_joins.remote", d.remoteJoins),
        term("local join events of the new account", "rc_message", d.localJoins),
    ];
    if (pre?.count) {
        // B's bucket already holds the earlier invites, minus what it refilled until the migration started.
        const l = limits["rc_invites.per_user"]!;
        const seconds = Math.max(0, (pre.count + d.invites - l.burst_count) / l.per_second - pre.secondsBeforeStart);
        terms.splice(1, 0, {
            what: `invites received on B (+${pre.count} earlier, ${pre.secondsBeforeStart.toFixed(0)} s before)`,
            limit: "rc_invites.per_user",
            n: pre.count + d.invites,
            seconds,
        });
    }
    return terms;
}

interface PreInvites {
    count: number;
    /** Time between the last of them and the start of the migration (B refilled meanwhile). */
    secondsBeforeStart: number;
}

const floorOf = (terms: FloorTerm[]) => terms.reduce((a, t) => (t.seconds > a.seconds ? t : a), terms[0]!);

// ---------------------------------------------------------------------------------------------------------------
// Memory

function memorySampler(intervalMs = 200) {
    const peak = { rss: 0, heapUsed: 0 };
    const sample = () => {
        const { rss, heapUsed } = process.memoryUsage();
        peak.rss = Math.max(peak.rss, rss);
        peak.heapUsed = Math.max(peak.heapUsed, heapUsed);
    };
    sample();
    const timer = setInterval(sample, intervalMs);
    timer.unref();
    return {
        peak,
        reset() {
            peak.rss = 0;
            peak.heapUsed = 0;
            sample();
        },
        stop() {
            clearInterval(timer);
            sample();
        },
    };
}

// ---------------------------------------------------------------------------------------------------------------
// What reaches the servers: every request of the two migrating sessions, with status and timing

type RequestKind = "invite" | "join" | "power" | "read" | "other-write";

interface LoggedRequest {
    side: "old" | "new";
    kind: RequestKind;
    status: number;
    startMs: number;
    endMs: number;
}

function classify(method: string, url: string): RequestKind {
    const path = new URL(url).pathname;
    if (method === "POST" && /\/rooms\/[^/]+\/invite$/.test(path)) return "invite";
    if (method === "POST" && /\/join\/[^/]+$/.test(path)) return "join";
    if (method === "PUT" && /\/state\/m\.room\.power_levels/.test(path)) return "power";
    if (method === "GET") return "read";
    return "other-write";
}

function recordingFetch(side: "old" | "new", log: LoggedRequest[], t0: () => number): typeof fetch {
    return async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        const method = init?.method ?? (input instanceof Request ? input.method : "GET");
        const startMs = performance.now() - t0();
        let status = 0;
        try {
            const response = await fetch(input, init);
            status = response.status;
            return response;
        } finally {
            log.push({ side, kind: classify(method, url), status, startMs, endMs: performance.now() - t0() });
        }
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Plan analysis

function demandOf(plan: MigrationPlan, snapshot: AccountSnapshot, strategy: "plan" | "naive"): Demand {
    const newServer = serverOf(plan.newUserId);
    const states = new Map(snapshot.rooms.map((r) => [r.roomId, new RoomState(r)]));
    const ready = plan.rooms.filter((r) => r.selected && r.status === "ready");
    const joining = ready.filter((r) => r.route === "invite" || r.route === "join");
    const isLocal = (roomId: string) =>
        (states.get(roomId)?.joinedMembers ?? []).some((m) => serverOf(m) === newServer);
    const remoteJoins = joining.filter((r) => !isLocal(r.roomId)).length;
    return {
        invites: strategy === "plan" ? invitesNeeded(plan) : joining.length,
        joins: joining.length,
        remoteJoins,
        localJoins: joining.length - remoteJoins,
        powerChanges: ready.filter(
            (r) => r.targetPowerLevel !== null && !r.blockers.some((b) => b.code === "old-cannot-set-power"),
        ).length,
    };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

interface EtaSample {
    t: number;
    etaMs: number;
    dominatedBy?: BucketName;
}

/** What `npm run bench` takes from one migration run. */
export interface MigrationFigures {
    wallMs: number;
    floorMs: number;
    floorWhat: string;
    /** The ETA the user was shown (the last progress event's, counted down) ÷ the actual remaining time at 25/50/75 %. */
    etaShown: number[];
    /** The same for scheduler.eta() sampled at those moments. */
    etaEngine: number[];
    /** The first ETA shown, ÷ the actual remaining time then, and when it came. */
    firstEta: { ratio: number; atMs: number } | undefined;
    /** From when on every ETA shown was within 0.8–1.25 of the actual remaining time (while at least 10 % remained). */
    etaSettledAfterMs: number | undefined;
    invitesSent: number;
    invitesPlanned: number;
    roomsNeedingInvite: number;
    roomsFailed: number;
    errors: string[];
    peakRssBytes: number;
}

export async function benchMigration(options: MigrationBenchOptions): Promise<MigrationFigures> {
    const memory = memorySampler();
    const baseline = process.memoryUsage();
    console.log(
        `Migration benchmark: ${options.rooms} rooms, limits = Synapse ${SYNAPSE_VERSION} defaults, rates × ${options.scale}, real bursts` +
            `${options.receivingStricter ? "; A lets its users invite freely (only B's invite limit binds)" : ""}; Node ${process.version}`,
    );
    if (Number(process.versions.node.split(".")[0]) < 22)
        console.log("Warning: not Node 22 (run with PATH=$PWD/node_modules/.bin:$PATH).");

    const limits = effectiveLimits(options.scale);
    console.log("\nEffective limits (per_second / burst_count → one action every …):");
    for (const [name, l] of Object.entries(limits)) {
        console.log(
            `  ${pad(name, 22)} ${lpad(+l.per_second.toPrecision(4), 8)} / ${lpad(l.burst_count, 5)}  → ${(1 / l.per_second).toFixed(1)} s`,
        );
    }

    let bed: Bed | undefined;
    let stopping: Promise<void> | undefined;
    const stop = () =>
        (stopping ??= bed ? bed.stop().then(() => console.error("Homeservers stopped.")) : Promise.resolve());
    const onSignal = () => void stop().finally(() => process.exit(130));
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, onSignal);

    try {
        const bedStart = performance.now();
        bed = await startHomeservers({
            portBase: options.portBase,
            limits: serverLimits(options),
            log: (l) => console.error(l),
        });
        console.log(
            `\nServers up in ${sec(performance.now() - bedStart)}: A ${bed.a.serverName}, B ${bed.b.serverName}`,
        );

        const fixture = await buildReferenceAccount(bed, options);
        const m = fixture.mix;
        console.log(
            `Reference account built in ${fixture.seconds.toFixed(1)} s: ${m.dmsOnA + m.dmsOnB} DMs (${m.dmsOnB} with a user on B), ${m.inviteOnly} invite-only rooms alice admins ` +
                `(half encrypted), ${m.publicOnA + m.publicOnB} public (${m.publicOnB} on B), ${m.spaces} space(s) + ${m.restricted} restricted rooms, ${m.blocked} where alice ` +
                `may not invite; alice made ${fixture.aliceOwnJoins} joins herself (not exempt), the rest through the admin API`,
        );
        if (options.preInvites)
            console.log(
                `Before the migration, dave on B (not exempt) invited the new account to ${options.preInvites} rooms.`,
            );

        return await runAndReport(bed, fixture, options, limits, memory, baseline);
    } finally {
        await stop();
        for (const signal of ["SIGINT", "SIGTERM"] as const) process.off(signal, onSignal);
    }
}

async function runAndReport(
    bed: Bed,
    fixture: ReferenceAccount,
    options: MigrationBenchOptions,
    limits: Record<string, Limit>,
    memory: ReturnType<typeof memorySampler>,
    baseline: NodeJS.MemoryUsage,
): Promise<MigrationFigures> {
    const { alice, newAccount } = fixture;
    const fixturePeak = { ...memory.peak };

    const snapshot = await snapshotFromSync(alice.http, alice.userId);
    const plan = buildPlan(snapshot, newAccount.userId);
    const byRoute = (route: string) => plan.rooms.filter((r) => r.status === "ready" && r.route === route).length;
    const demand = demandOf(plan, snapshot, "plan");
    const naive = demandOf(plan, snapshot, "naive");
    console.log(
        `\nPlan: ${plan.rooms.length} rooms in the snapshot; ready ${plan.rooms.filter((r) => r.status === "ready").length} ` +
            `(route invite ${byRoute("invite")}, join ${byRoute("join")} of which ${plan.rooms.filter((r) => r.joinAfterSpace).length} after a space), ` +
            `blocked ${plan.rooms.filter((r) => r.status === "blocked").length}`,
    );
    console.log(
        `  demand: ${demand.invites} invites, ${demand.joins} joins (${demand.remoteJoins} remote, ${demand.localJoins} local), ${demand.powerChanges} power-level changes`,
    );

    // Sessions whose every request is recorded.
    let t0 = 0;
    const requests: LoggedRequest[] = [];
    const sides: { old: AccountSession; new: AccountSession } = {
        old: {
            userId: alice.userId,
            http: new MatrixHttp(
                bed.a.baseUrl,
                alice.accessToken,
                recordingFetch("old", requests, () => t0),
            ),
        },
        new: {
            userId: newAccount.userId,
            http: new MatrixHttp(
                bed.b.baseUrl,
                newAccount.accessToken,
                recordingFetch("new", requests, () => t0),
            ),
        },
    };

    const waits: Array<WaitNotice & { t: number }> = [];
    const scheduler = new Scheduler({
        onWait: (n) => {
            const t = performance.now() - t0;
            waits.push({ ...n, t });
            console.log(`  [${sec(t).padStart(8)}] wait ${sec(n.ms)} on ${n.bucket} (${n.reason})`);
        },
    });
    const etaSamples: EtaSample[] = [];
    const progressSamples: Array<{ t: number; etaMs: number; roomsDone: number }> = [];
    let lastPrinted = -Infinity;
    let roomsTotal = 0;
    let roomsDone = 0;

    memory.reset();
    t0 = performance.now();
    const etaTimer = setInterval(() => {
        const eta = scheduler.eta();
        const t = performance.now() - t0;
        etaSamples.push({ t, etaMs: eta.ms, dominatedBy: eta.dominatedBy });
        if (t - lastPrinted >= 10_000) {
            lastPrinted = t;
            console.log(
                `  [${sec(t).padStart(8)}] ${roomsDone}/${roomsTotal} rooms, ETA ${sec(eta.ms)} (${eta.dominatedBy ?? "-"})`,
            );
        }
    }, 500);
    let report: MigrationReport;
    try {
        console.log("\nRunning the migration…");
        report = await runMigration(plan, snapshot, sides, {
            scheduler,
            onProgress: (e) => {
                roomsDone = e.roomsDone;
                roomsTotal = e.roomsTotal;
                progressSamples.push({ t: performance.now() - t0, etaMs: e.etaMs, roomsDone: e.roomsDone });
            },
        });
    } finally {
        clearInterval(etaTimer);
    }
    const wallMs = performance.now() - t0;
    const runPeak = { ...memory.peak };
    memory.stop();

    // ---- Outcome
    const outcomes = new Map<string, number>();
    for (const r of report.rooms) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    console.log(`\n== Result ==`);
    console.log(`  wall time: ${sec(wallMs)}`);
    console.log(
        `  rooms: ${[...outcomes].map(([k, v]) => `${v} ${k}`).join(", ")}; errors: ${report.errors.length ? report.errors.join(" | ") : "none"}`,
    );
    for (const r of report.rooms.filter((r) => r.outcome === "failed"))
        console.log(`    FAILED ${r.name}: ${r.reason}`);
    for (const r of report.rooms.filter((r) => r.outcome === "needs-action"))
        console.log(`    needs action ${r.name}: ${r.reason.slice(0, 100)}`);

    // ---- Requests that reached the servers
    const count = (kind: RequestKind, pred: (r: LoggedRequest) => boolean) =>
        requests.filter((r) => r.kind === kind && pred(r)).length;
    const ok = (r: LoggedRequest) => r.status >= 200 && r.status < 300;
    console.log(`\n== Requests (as sent by the engine) ==`);
    for (const kind of ["invite", "join", "power", "other-write", "read"] as RequestKind[]) {
        const all = requests.filter((r) => r.kind === kind);
        if (!all.length) continue;
        const statuses = new Map<number, number>();
        for (const r of all) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const lat = all.filter(ok).map((r) => r.endMs - r.startMs);
        const mean = lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : 0;
        console.log(
            `  ${pad(kind, 12)} ${lpad(all.length, 4)} sent: ${[...statuses]
                .sort((a, b) => a[0] - b[0])
                .map(([s, n]) => `${n}×${s || "net"}`)
                .join(", ")}` + `; mean latency of successes ${mean.toFixed(0)} ms`,
        );
    }
    console.log(
        `  invites sent (report): ${report.invitesSent}; joins succeeded: ${count("join", ok)}; power changes: ${count("power", ok)}`,
    );

    // Pacing once a server first held a kind of request back (429 or 5xx): spacing of the successes that followed
    // vs the server's refill interval (1.00× = exactly as fast as the limit allows).
    const spacing = (kind: RequestKind, perSecond: number, label: string) => {
        const mine = requests.filter((r) => r.kind === kind).sort((a, b) => a.endMs - b.endMs);
        const firstHeld = mine.find((r) => !ok(r));
        if (!firstHeld) return;
        const lastBefore = mine.filter((r) => ok(r) && r.endMs <= firstHeld.endMs).at(-1);
        const after = mine.filter((r) => ok(r) && r.endMs > firstHeld.endMs).map((r) => r.endMs);
        const times = [...(lastBefore ? [lastBefore.endMs] : []), ...after];
        const gaps = times.slice(1).map((t, i) => t - times[i]!);
        if (!gaps.length) return;
        const meanGap = gaps.reduce((a, b) => a + b, 0) / gaps.length;
        console.log(
            `  ${label}: ${after.length} successes after the first refusal (${firstHeld.status}) at ${sec(firstHeld.endMs)}; gaps mean ${sec(meanGap)}, ` +
                `min ${sec(Math.min(...gaps))}, max ${sec(Math.max(...gaps))} vs the server's refill every ${sec(1000 / perSecond)} → ${ratio(meanGap, 1000 / perSecond)}`,
        );
    };
    spacing("invite", limits["rc_invites.per_user"]!.per_second, "invite pacing");
    spacing("join", limits["rc_joins.remote"]!.per_second, "join pacing  ");

    // ---- Waits
    console.log(`\n== Waits reported by the scheduler ==`);
    const stats = scheduler.stats();
    const byBucket = new Map<string, Map<string, { n: number; ms: number }>>();
    for (const w of waits) {
        const reasons = byBucket.get(w.bucket) ?? new Map();
        const e = reasons.get(w.reason) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += w.ms;
        reasons.set(w.reason, e);
        byBucket.set(w.bucket, reasons);
    }
    for (const [name, s] of Object.entries(stats)) {
        const reasons = byBucket.get(name);
        const detail = reasons ? [...reasons].map(([r, e]) => `${e.n}× ${r} = ${sec(e.ms)}`).join(", ") : "no waits";
        console.log(
            `  ${pad(name, 16)} done ${lpad(s.done, 4)}/${lpad(s.expected || "-", 4)}  limitedWait ${lpad(sec(s.limitedWaitMs), 9)}  ` +
                `minInterval ${lpad(sec(s.minIntervalMs), 8)}  ${detail}`,
        );
    }
    if (!waits.length) console.log("  (the servers never asked the engine to wait)");

    // ---- Floor
    console.log(`\n== Theoretical floor from the servers' limits (×${options.scale}) ==`);
    const pre: PreInvites | undefined =
        fixture.preInvitesDoneAt !== undefined
            ? { count: options.preInvites, secondsBeforeStart: (t0 - fixture.preInvitesDoneAt) / 1000 }
            : undefined;
    const terms = floorTerms(demand, limits, pre);
    for (const t of terms) {
        const l = limits[t.limit]!;
        console.log(
            `  ${pad(t.what, 52)} ${lpad(t.n, 4)} vs ${pad(t.limit, 20)} burst ${lpad(l.burst_count, 4)} → ${lpad(sec(t.seconds * 1000), 8)}`,
        );
    }
    const floor = floorOf(terms);
    const floorMs = floor.seconds * 1000;
    console.log(`  floor: ${sec(floorMs)} (${floor.seconds > 0 ? floor.what : "no limit is reached"})`);
    console.log(`  wall / floor: ${ratio(wallMs, floorMs)}; time above the floor: ${sec(wallMs - floorMs)}`);
    if (floorMs === 0) {
        console.log(
            "  No limit was reached: the bed scales the bursts too (the new account may receive " +
                `${limits["rc_invites.per_user"]!.burst_count} invites and make ${limits["rc_joins.remote"]!.burst_count} remote joins before waiting). ` +
                "For a run that meets the limits try --rooms 90 --scale 10 (invites) or --rooms 60 --scale 5 --public-share 0.6 (joins).",
        );
    }

    // ---- ETA accuracy
    console.log(`\n== ETA accuracy (predicted remaining / actual remaining) ==`);
    // What a UI shows at time t: the last progress event's ETA, counted down since it arrived.
    const shownAt = (t: number) => {
        const shown = progressSamples.findLast((x) => x.t <= t);
        return shown ? Math.max(0, shown.etaMs - (t - shown.t)) : undefined;
    };
    const etaShown: number[] = [];
    const etaEngine: number[] = [];
    for (const f of [0.25, 0.5, 0.75]) {
        const at = f * wallMs;
        const actual = wallMs - at;
        const engine = etaSamples.findLast((x) => x.t <= at);
        const shownNow = shownAt(at);
        etaShown.push(shownNow !== undefined ? shownNow / actual : NaN);
        etaEngine.push(engine ? engine.etaMs / actual : NaN);
        console.log(
            `  at ${lpad(f * 100, 2)}% (${sec(at)}, actual remaining ${sec(actual)}): scheduler.eta() ${engine ? `${sec(engine.etaMs)} → ${ratio(engine.etaMs, actual)} [${engine.dominatedBy ?? "-"}]` : "no sample"}; ` +
                `last progress ETA counted down ${shownNow !== undefined ? `${sec(shownNow)} → ${ratio(shownNow, actual)}` : "none yet"}`,
        );
    }
    const first = progressSamples[0];
    const firstEta = first ? { ratio: first.etaMs / (wallMs - first.t), atMs: first.t } : undefined;
    if (first)
        console.log(
            `  first ETA shown (t=${sec(first.t)}): ${sec(first.etaMs)} → ${ratio(first.etaMs, wallMs - first.t)} of the actual remaining (Synapse's real defaults assumed until the servers show their pace)`,
        );
    // Settled: every ETA shown from then on (sampled with the engine's, twice a second) is within 0.8–1.25, while at
    // least a tenth of the run remains (near the end a second's jitter is a large ratio).
    const outOfRange = etaSamples.filter((x) => {
        const shownNow = shownAt(x.t);
        const actual = wallMs - x.t;
        return (
            actual >= 0.1 * wallMs && shownNow !== undefined && (shownNow / actual < 0.8 || shownNow / actual > 1.25)
        );
    });
    const etaSettledAfterMs = outOfRange.length
        ? etaSamples.find((x) => x.t > outOfRange.at(-1)!.t)?.t
        : etaSamples[0]?.t;
    console.log(
        `  every ETA shown within 0.8–1.25× from t=${etaSettledAfterMs !== undefined ? sec(etaSettledAfterMs) : "never"} on (${outOfRange.length} samples outside before)`,
    );

    // ---- Naive strategy
    console.log(`\n== Fewest invites vs a naive "invite everywhere" on the same plan ==`);
    const naiveTerms = floorTerms(naive, limits, pre);
    const naiveFloor = floorOf(naiveTerms);
    console.log(`  invites: plan ${demand.invites}, naive ${naive.invites} (saved ${naive.invites - demand.invites})`);
    console.log(
        `  floor at ×${options.scale}: plan ${sec(floorMs)} (${floor.limit}), naive ${sec(naiveFloor.seconds * 1000)} (${naiveFloor.limit}) ` +
            `→ saving ${sec(naiveFloor.seconds * 1000 - floorMs)}`,
    );
    const real = effectiveLimits(1);
    const realPlan = floorOf(floorTerms(demand, real));
    const realNaive = floorOf(floorTerms(naive, real));
    console.log(
        `  floor at Synapse's real defaults (×1): plan ${hms(realPlan.seconds)} (${realPlan.limit}), naive ${hms(realNaive.seconds)} (${realNaive.limit}) ` +
            `→ saving ${hms(realNaive.seconds - realPlan.seconds)}`,
    );

    // ---- Memory
    console.log(`\n== Memory of this process ==`);
    console.log(`  baseline RSS ${mb(baseline.rss)}, heap ${mb(baseline.heapUsed)}`);
    console.log(
        `  peak while building the reference account: RSS ${mb(fixturePeak.rss)}, heap ${mb(fixturePeak.heapUsed)}`,
    );
    console.log(`  peak during the migration: RSS ${mb(runPeak.rss)}, heap ${mb(runPeak.heapUsed)}`);

    // ---- One line to compare runs
    console.log(
        `\nSUMMARY rooms=${options.rooms} scale=${options.scale} wall=${(wallMs / 1000).toFixed(1)}s floor=${floor.seconds.toFixed(1)}s ` +
            `ratio=${floorMs > 0 ? (wallMs / floorMs).toFixed(2) : "n/a"} preInvites=${options.preInvites} receivingStricter=${options.receivingStricter} ` +
            `invites=${report.invitesSent} needed=${fixture.roomsNeedingInvite} joins=${count("join", ok)} waits=${waits.length} failed=${outcomes.get("failed") ?? 0} ` +
            `eta=${etaShown.map((r) => r.toFixed(2)).join("/")} naiveFloor=${naiveFloor.seconds.toFixed(1)}s peakRSS=${mb(runPeak.rss)}`,
    );
    return {
        wallMs,
        floorMs,
        floorWhat: floor.what,
        etaShown,
        etaEngine,
        firstEta,
        etaSettledAfterMs,
        invitesSent: report.invitesSent,
        invitesPlanned: demand.invites,
        roomsNeedingInvite: fixture.roomsNeedingInvite,
        roomsFailed: outcomes.get("failed") ?? 0,
        errors: report.errors,
        peakRssBytes: runPeak.rss,
    };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    benchMigration(parseOptions(process.argv.slice(2))).then(
        () => process.exit(0),
        (e) => {
            console.error(e instanceof Error ? (e.stack ?? e.message) : e);
            process.exit(1);
        },
    );
}
