/**
 * Benchmark of a whole migration against two real Synapse servers with Synapse's DEFAULT rate limits, all scaled by
 * one factor (not a test: it prints figures and ratios, it asserts nothing).
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/migration.ts [--rooms N] [--scale S] [--public-share F] [--pre-invites K]
 *                                                               [--port-base P] [--build-concurrency C]
 *
 * 1. Starts servers A and B (ports from 9780) with the default limits × S and prints the ones a migration meets.
 * 2. Builds an old account `alice` on A with N rooms of a realistic mix: direct chats (with people on A and on B),
 *    invite-only rooms she admins, public rooms (some she admins), a space with restricted rooms, one room where she
 *    may not invite. The people who build the rooms (and the two server admins) are exempt from rate limits through
 *    the admin API; alice and the new account on B never are. Alice only joins a few rooms herself (direct chats and
 *    rooms on B, like any user); the others she joins through the admin API, which is not rate-limited either, so her
 *    limits start the migration (almost) untouched.
 *    With --pre-invites K, someone on B (not exempt) invites the new account to K rooms just before the migration:
 *    that spends part of B's per-user invite budget but none of A's, so B — not A — refuses the migration's invites
 *    (the inviting server then answers 502), which is the engine's "invite refused" path.
 * 3. Plans and runs the migration with the engine's Scheduler, recording every wait it reports, every request that
 *    reaches the servers, and the ETA once a second.
 * 4. Prints the wall time, invites, joins, waits per bucket, the theoretical floor that the servers' limits impose
 *    and the ratio wall / floor, the ETA's accuracy at 25/50/75 % of the run, and peak memory of this process.
 * 5. Prints what a naive "invite the new account everywhere" strategy would have needed, at this scale and at
 *    Synapse's real defaults, to show what the fewest-invites routing saves.
 *
 * Note on the scaling: the test bed scales BOTH per_second and burst_count by S (tests/bed/rateLimits.ts), so at
 * S = 20 the new account may receive 100 invites and make 200 remote joins before any limit applies. The floors below
 * use the bursts the servers really run with.
 */
import { performance } from "node:perf_hooks";

import type { AccountSession } from "../src/engine/context.ts";
import { type MigrationReport, runMigration } from "../src/engine/migration.ts";
import { type MigrationPlan, buildPlan, invitesNeeded } from "../src/engine/plan.ts";
import { type BucketName, Scheduler, type WaitNotice } from "../src/engine/scheduler.ts";
import { type AccountSnapshot, RoomState } from "../src/engine/snapshot.ts";
import { MatrixHttp, isMatrixRequestError, seg } from "../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../src/sessions/snapshots.ts";
import { type Bed, type Homeserver, type RegisteredUser, registerUser, startHomeservers } from "../tests/bed/homeservers.ts";
import { rateLimitConfig } from "../tests/bed/rateLimits.ts";
import { SYNAPSE_VERSION } from "../tests/bed/synapseInstall.ts";

// ---------------------------------------------------------------------------------------------------------------
// Options

interface Options {
    rooms: number;
    scale: number;
    publicShare: number;
    preInvites: number;
    portBase: number;
    buildConcurrency: number;
}

const USAGE =
    "usage: tsx bench/migration.ts [--rooms N (>= 10)] [--scale S] [--public-share 0..0.6] [--pre-invites K] [--port-base P] [--build-concurrency C]";

function parseOptions(argv: string[]): Options {
    const value = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const options: Options = {
        rooms: Number(value("--rooms") ?? 30),
        scale: Number(value("--scale") ?? 20),
        publicShare: Number(value("--public-share") ?? 0.2),
        preInvites: Number(value("--pre-invites") ?? 0),
        portBase: Number(value("--port-base") ?? 9780),
        buildConcurrency: Number(value("--build-concurrency") ?? 4),
    };
    if (argv.includes("--help") || !(options.rooms >= 10) || !(options.scale > 0) || !(options.publicShare >= 0 && options.publicShare <= 0.6) || !(options.preInvites >= 0)) {
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
const hms = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);

// ---------------------------------------------------------------------------------------------------------------
// Rate limits as the servers run them

interface Limit {
    per_second: number;
    burst_count: number;
}

/** The limits a migration meets, read from the same config the bed writes (so they are what Synapse enforces). */
function effectiveLimits(scale: number): Record<string, Limit> {
    const cfg = rateLimitConfig({ kind: "default", scale }) as Record<string, any>;
    return {
        "rc_invites.per_user": cfg.rc_invites.per_user,
        "rc_invites.per_issuer": cfg.rc_invites.per_issuer,
        "rc_invites.per_room": cfg.rc_invites.per_room,
        "rc_joins.remote": cfg.rc_joins.remote,
        "rc_joins.local": cfg.rc_joins.local,
        "rc_joins_per_room": cfg.rc_joins_per_room,
        "rc_message": cfg.rc_message,
        "rc_room_creation": cfg.rc_room_creation,
    };
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
    const term = (what: string, limit: string, n: number): FloorTerm => ({ what, limit, n, seconds: bucketFloorSeconds(n, limits[limit]!) });
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
// The fixture: the old account and the people around it

interface Person extends RegisteredUser {
    http: MatrixHttp;
}

function person(user: RegisteredUser): Person {
    return { ...user, http: new MatrixHttp(user.homeserver.baseUrl, user.accessToken) };
}

/** Retries a fixture request the server rate-limited (only the non-exempt alice can meet one). */
async function withRetry<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
        try {
            return await request();
        } catch (e) {
            if (!isMatrixRequestError(e) || !e.isRateLimited || attempt > 20) throw e;
            await new Promise((r) => setTimeout(r, (e.retryAfterMs ?? 1000) + 100));
        }
    }
}

/** Runs tasks with at most `limit` at a time. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
    const results: T[] = new Array(tasks.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: Math.min(limit, tasks.length) }, async () => {
            while (next < tasks.length) {
                const i = next++;
                results[i] = await tasks[i]!();
            }
        }),
    );
    return results;
}

const createRoom = (who: Person, body: Record<string, unknown>) =>
    withRetry(() => who.http.request<{ room_id: string }>("POST", "/createRoom", { body })).then((r) => r.room_id);

const sendState = (who: Person, roomId: string, type: string, stateKey: string, content: Record<string, unknown>) =>
    withRetry(() => who.http.request("PUT", `/rooms/${seg(roomId)}/state/${seg(type)}/${seg(stateKey)}`, { body: content }));

let txnCounter = 0;
const sendText = (who: Person, roomId: string, body: string) =>
    withRetry(() =>
        who.http.request("PUT", `/rooms/${seg(roomId)}/send/m.room.message/bench-${Date.now()}-${txnCounter++}`, { body: { msgtype: "m.text", body } }),
    );

const joinSelf = (who: Person, roomId: string, via: string[]) =>
    withRetry(() => who.http.request("POST", `/join/${seg(roomId)}`, { query: { server_name: via, via }, body: {} }));

/** The admin API's join: a local user joins (invited by the admin first if the room is not public); not rate-limited. */
const adminJoin = (admin: Person, userId: string, roomId: string) =>
    admin.http.request("POST", `/join/${seg(roomId)}`, { prefix: "/_synapse/admin/v1", body: { user_id: userId } });

/** Exempts a fixture user from every limit keyed on it as requester (never used for the migrating accounts). */
const exempt = (admin: Person, userId: string) =>
    admin.http.request("POST", `/users/${seg(userId)}/override_ratelimit`, {
        prefix: "/_synapse/admin/v1",
        body: { messages_per_second: 0, burst_count: 0 },
    });

interface Mix {
    dmsOnA: number;
    dmsOnB: number;
    space: number;
    restricted: number;
    publicOnA: number;
    publicOnB: number;
    blocked: number;
    inviteOnly: number;
}

function mixFor(n: number, publicShare: number): Mix {
    const dms = Math.max(2, Math.round(0.12 * n));
    const dmsOnB = Math.min(2, Math.max(1, Math.round(dms / 3)));
    const restricted = Math.round(0.2 * n);
    const publicRooms = Math.max(2, Math.round(publicShare * n));
    const mix: Mix = { dmsOnA: dms - dmsOnB, dmsOnB, space: 1, restricted, publicOnA: publicRooms - 1, publicOnB: 1, blocked: 1, inviteOnly: 0 };
    const fixed = dms + 1 + restricted + publicRooms + 1;
    mix.inviteOnly = n - fixed;
    if (mix.inviteOnly < 0) {
        mix.restricted = Math.max(1, mix.restricted + mix.inviteOnly);
        mix.inviteOnly = n - (dms + 1 + mix.restricted + publicRooms + 1);
        if (mix.inviteOnly < 0) throw new Error(`Cannot fit the mix into ${n} rooms; lower --public-share`);
    }
    return mix;
}

interface Fixture {
    alice: Person;
    newAccount: Person;
    mix: Mix;
    aliceOwnJoins: number;
    seconds: number;
    /** performance.now() when the last pre-invite landed. */
    preInvitesDoneAt?: number;
}

const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

async function buildFixture(bed: Bed, options: Options): Promise<Fixture> {
    const started = performance.now();
    const mix = mixFor(options.rooms, options.publicShare);
    const A = bed.a.serverName;
    const B = bed.b.serverName;

    // Builders: "bob" is A's server admin and creates most rooms; friends on A and carol on B start direct chats.
    const bob = person(await registerUser(bed.a, "bob", { admin: true, displayName: "Bob" }));
    const adminB = person(await registerUser(bed.b, "admin-b", { admin: true }));
    const friends = await Promise.all(Array.from({ length: mix.dmsOnA }, (_, i) => registerUser(bed.a, `friend${i}`, { displayName: `Friend ${i}` }).then(person)));
    const carol = person(await registerUser(bed.b, "carol", { displayName: "Carol" }));
    await exempt(bob, bob.userId);
    for (const f of friends) await exempt(bob, f.userId);
    await exempt(adminB, adminB.userId);
    await exempt(adminB, carol.userId);

    // The migrating accounts: never exempt.
    const alice = person(await registerUser(bed.a, "alice", { displayName: "Alice" }));
    const newAccount = person(await registerUser(bed.b, "alice-new"));

    const direct: Record<string, string[]> = {};
    const tags: Array<{ roomId: string; tag: string; content: Record<string, unknown> }> = [];
    let aliceOwnJoins = 0;

    // Direct chats: the partner creates it and invites alice (partners are exempt, so these invites do not count
    // against alice's limits); alice joins herself, like anyone accepting a DM.
    const dmTasks: Array<() => Promise<void>> = [];
    const partners: Person[] = [...friends, ...Array.from({ length: mix.dmsOnB }, () => carol)];
    partners.forEach((partner, i) =>
        dmTasks.push(async () => {
            const roomId = await createRoom(partner, {
                preset: "trusted_private_chat",
                is_direct: true,
                invite: [alice.userId],
                initial_state: [ENCRYPTION],
            });
            await joinSelf(alice, roomId, [serverOf(partner.userId)]);
            aliceOwnJoins++;
            (direct[partner.userId] ??= []).push(roomId);
            if (i % 2 === 0) tags.push({ roomId, tag: "m.favourite", content: { order: i / 10 } });
            await sendText(partner, roomId, `hi alice (${i})`);
        }),
    );
    // A public room on B (the new account's join there is local); alice joins it herself.
    dmTasks.push(async () => {
        const roomId = await createRoom(carol, { name: "B-side plaza", preset: "public_chat" });
        await joinSelf(alice, roomId, [B]);
        aliceOwnJoins++;
        tags.push({ roomId, tag: "m.lowpriority", content: {} });
    });

    // The space and its restricted rooms.
    const space = await createRoom(bob, {
        name: "Bench space",
        preset: "private_chat",
        creation_content: { type: "m.space" },
        power_level_content_override: { users: { [alice.userId]: 100 } },
    });
    await adminJoin(bob, alice.userId, space);

    const roomTasks: Array<() => Promise<void>> = [];
    const adminRoom = (body: Record<string, unknown>, after?: (roomId: string) => Promise<void>) =>
        roomTasks.push(async () => {
            const roomId = await createRoom(bob, body);
            await adminJoin(bob, alice.userId, roomId);
            await sendText(bob, roomId, "welcome");
            await after?.(roomId);
        });
    const admin100 = { users: { [alice.userId]: 100 } };
    for (let i = 0; i < mix.restricted; i++) {
        adminRoom(
            {
                name: `Space room ${i}`,
                preset: "private_chat",
                power_level_content_override: admin100,
                initial_state: [
                    { type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } },
                    { type: "m.space.parent", state_key: space, content: { via: [A], canonical: true } },
                ],
            },
            (roomId) => sendState(bob, space, "m.space.child", roomId, { via: [A] }).then(() => undefined),
        );
    }
    for (let i = 0; i < mix.publicOnA; i++) {
        // Half of them alice moderates (join + power), half she is only a member of (join only).
        adminRoom({ name: `Public ${i}`, preset: "public_chat", ...(i % 2 === 0 ? { power_level_content_override: admin100 } : {}) }, async (roomId) => {
            if (i % 3 === 1) tags.push({ roomId, tag: "m.lowpriority", content: {} });
        });
    }
    for (let i = 0; i < mix.inviteOnly; i++) {
        adminRoom(
            { name: `Team ${i}`, preset: "private_chat", power_level_content_override: admin100, initial_state: i % 2 === 0 ? [ENCRYPTION] : [] },
            async (roomId) => {
                if (i % 4 === 0) tags.push({ roomId, tag: "u.work", content: { order: i } });
            },
        );
    }
    for (let i = 0; i < mix.blocked; i++) {
        adminRoom({ name: `Bob's office ${i}`, preset: "private_chat", power_level_content_override: { invite: 50 } });
    }

    await pool([...dmTasks, ...roomTasks], options.buildConcurrency);

    // Account data: not rate-limited.
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/account_data/m.direct`, { body: direct });
    for (const t of tags) {
        await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(t.roomId)}/tags/${seg(t.tag)}`, { body: t.content });
    }
    await alice.http.request("PUT", "/pushrules/global/content/keyword-deploy", { body: { pattern: "deploy", actions: ["notify"] } });
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/account_data/m.ignored_user_list`, { body: { ignored_users: { "@spam:example.org": {} } } });

    // Invites the new account receives from someone else just before the migration (see --pre-invites).
    let preInvitesDoneAt: number | undefined;
    if (options.preInvites > 0) {
        const dave = person(await registerUser(bed.b, "dave", { displayName: "Dave" }));
        const rooms = await pool(
            Array.from({ length: options.preInvites }, (_, i) => () => createRoom(dave, { name: `Dave's room ${i}`, preset: "private_chat" })),
            options.buildConcurrency,
        );
        for (const roomId of rooms) {
            await withRetry(() => dave.http.request("POST", `/rooms/${seg(roomId)}/invite`, { body: { user_id: newAccount.userId } }));
        }
        preInvitesDoneAt = performance.now();
    }

    return { alice, newAccount, mix, aliceOwnJoins, seconds: (performance.now() - started) / 1000, preInvitesDoneAt };
}

function serverOf(userId: string): string {
    return userId.slice(userId.indexOf(":") + 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Plan analysis

function demandOf(plan: MigrationPlan, snapshot: AccountSnapshot, strategy: "plan" | "naive"): Demand {
    const newServer = serverOf(plan.newUserId);
    const states = new Map(snapshot.rooms.map((r) => [r.roomId, new RoomState(r)]));
    const ready = plan.rooms.filter((r) => r.selected && r.status === "ready");
    const joining = ready.filter((r) => r.route === "invite" || r.route === "join");
    const isLocal = (roomId: string) => (states.get(roomId)?.joinedMembers ?? []).some((m) => serverOf(m) === newServer);
    const remoteJoins = joining.filter((r) => !isLocal(r.roomId)).length;
    return {
        invites: strategy === "plan" ? invitesNeeded(plan) : joining.length,
        joins: joining.length,
        remoteJoins,
        localJoins: joining.length - remoteJoins,
        powerChanges: ready.filter((r) => r.targetPowerLevel !== null && !r.blockers.some((b) => b.code === "old-cannot-set-power")).length,
    };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

interface EtaSample {
    t: number;
    etaMs: number;
    dominatedBy?: BucketName;
}

async function main(): Promise<void> {
    const options = parseOptions(process.argv.slice(2));
    const memory = memorySampler();
    const baseline = process.memoryUsage();
    console.log(`Migration benchmark: ${options.rooms} rooms, limits = Synapse ${SYNAPSE_VERSION} defaults × ${options.scale}; Node ${process.version}`);
    if (Number(process.versions.node.split(".")[0]) < 22) console.log("Warning: not Node 22 (run with PATH=$PWD/node_modules/.bin:$PATH).");

    const limits = effectiveLimits(options.scale);
    console.log("\nEffective limits (per_second / burst_count → one action every …):");
    for (const [name, l] of Object.entries(limits)) {
        console.log(`  ${pad(name, 22)} ${lpad(+l.per_second.toPrecision(4), 8)} / ${lpad(l.burst_count, 5)}  → ${(1 / l.per_second).toFixed(1)} s`);
    }

    let bed: Bed | undefined;
    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= bed ? bed.stop().then(() => console.error("Homeservers stopped.")) : Promise.resolve());
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => void stop().finally(() => process.exit(130)));
    }

    try {
        const bedStart = performance.now();
        bed = await startHomeservers({ portBase: options.portBase, limits: { kind: "default", scale: options.scale }, log: (l) => console.error(l) });
        console.log(`\nServers up in ${sec(performance.now() - bedStart)}: A ${bed.a.serverName}, B ${bed.b.serverName}`);

        const fixture = await buildFixture(bed, options);
        const m = fixture.mix;
        console.log(
            `Fixture built in ${fixture.seconds.toFixed(1)} s: ${m.dmsOnA + m.dmsOnB} DMs (${m.dmsOnB} with a user on B), ${m.inviteOnly} invite-only rooms alice admins, ` +
                `${m.publicOnA + m.publicOnB} public (${m.publicOnB} on B), 1 space + ${m.restricted} restricted rooms, ${m.blocked} where alice may not invite; ` +
                `alice made ${fixture.aliceOwnJoins} joins herself (not exempt), the rest through the admin API`,
        );
        if (options.preInvites) console.log(`Before the migration, dave on B (not exempt) invited the new account to ${options.preInvites} rooms.`);

        await runAndReport(bed, fixture, options, limits, memory, baseline);
    } finally {
        await stop();
    }
}

async function runAndReport(
    bed: Bed,
    fixture: Fixture,
    options: Options,
    limits: Record<string, Limit>,
    memory: ReturnType<typeof memorySampler>,
    baseline: NodeJS.MemoryUsage,
): Promise<void> {
    const { alice, newAccount } = fixture;
    const fixturePeak = { ...memory.peak };

    const snapshot = await snapshotFromSync(alice.http, alice.userId);
    const plan = buildPlan(snapshot, newAccount.userId);
    const byRoute = (route: string) => plan.rooms.filter((r) => r.status === "ready" && r.route === route).length;
    const demand = demandOf(plan, snapshot, "plan");
    const naive = demandOf(plan, snapshot, "naive");
    console.log(
        `\nPlan: ${plan.rooms.length} rooms in the snapshot; ready ${plan.rooms.filter((r) => r.status === "ready").length} ` +
            `(route invite ${byRoute("invite")}, join ${byRoute("join")} of which ${plan.rooms.filter((r) => r.joinAfterSpace).length} after the space), ` +
            `blocked ${plan.rooms.filter((r) => r.status === "blocked").length}`,
    );
    console.log(
        `  demand: ${demand.invites} invites, ${demand.joins} joins (${demand.remoteJoins} remote, ${demand.localJoins} local), ${demand.powerChanges} power-level changes`,
    );

    // Sessions whose every request is recorded.
    let t0 = 0;
    const requests: LoggedRequest[] = [];
    const sides: { old: AccountSession; new: AccountSession } = {
        old: { userId: alice.userId, http: new MatrixHttp(bed.a.baseUrl, alice.accessToken, recordingFetch("old", requests, () => t0)) },
        new: { userId: newAccount.userId, http: new MatrixHttp(bed.b.baseUrl, newAccount.accessToken, recordingFetch("new", requests, () => t0)) },
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
            console.log(`  [${sec(t).padStart(8)}] ${roomsDone}/${roomsTotal} rooms, ETA ${sec(eta.ms)} (${eta.dominatedBy ?? "-"})`);
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
    console.log(`  rooms: ${[...outcomes].map(([k, v]) => `${v} ${k}`).join(", ")}; errors: ${report.errors.length ? report.errors.join(" | ") : "none"}`);
    for (const r of report.rooms.filter((r) => r.outcome === "failed")) console.log(`    FAILED ${r.name}: ${r.reason}`);
    for (const r of report.rooms.filter((r) => r.outcome === "needs-action")) console.log(`    needs action ${r.name}: ${r.reason.slice(0, 100)}`);

    // ---- Requests that reached the servers
    const count = (kind: RequestKind, pred: (r: LoggedRequest) => boolean) => requests.filter((r) => r.kind === kind && pred(r)).length;
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
            `  ${pad(kind, 12)} ${lpad(all.length, 4)} sent: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${n}×${s || "net"}`).join(", ")}` +
                `; mean latency of successes ${mean.toFixed(0)} ms`,
        );
    }
    console.log(`  invites sent (report): ${report.invitesSent}; joins succeeded: ${count("join", ok)}; power changes: ${count("power", ok)}`);

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
        fixture.preInvitesDoneAt !== undefined ? { count: options.preInvites, secondsBeforeStart: (t0 - fixture.preInvitesDoneAt) / 1000 } : undefined;
    const terms = floorTerms(demand, limits, pre);
    for (const t of terms) {
        const l = limits[t.limit]!;
        console.log(`  ${pad(t.what, 52)} ${lpad(t.n, 4)} vs ${pad(t.limit, 20)} burst ${lpad(l.burst_count, 4)} → ${lpad(sec(t.seconds * 1000), 8)}`);
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
    for (const f of [0.25, 0.5, 0.75]) {
        const at = f * wallMs;
        const actual = wallMs - at;
        const engine = [...etaSamples].reverse().find((s) => s.t <= at);
        const shown = [...progressSamples].reverse().find((s) => s.t <= at);
        // What a UI shows: the last progress event's ETA, counted down since it arrived.
        const shownNow = shown ? Math.max(0, shown.etaMs - (at - shown.t)) : undefined;
        console.log(
            `  at ${lpad(f * 100, 2)}% (${sec(at)}, actual remaining ${sec(actual)}): scheduler.eta() ${engine ? `${sec(engine.etaMs)} → ${ratio(engine.etaMs, actual)} [${engine.dominatedBy ?? "-"}]` : "no sample"}; ` +
                `last progress ETA counted down ${shownNow !== undefined ? `${sec(shownNow)} → ${ratio(shownNow, actual)}` : "none yet"}`,
        );
    }
    const first = etaSamples[0];
    if (first) console.log(`  first ETA (t=${sec(first.t)}): ${sec(first.etaMs)} → ${ratio(first.etaMs, wallMs - first.t)} of the actual remaining`);

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
    console.log(`  peak while building the fixture: RSS ${mb(fixturePeak.rss)}, heap ${mb(fixturePeak.heapUsed)}`);
    console.log(`  peak during the migration: RSS ${mb(runPeak.rss)}, heap ${mb(runPeak.heapUsed)}`);

    // ---- One line to compare runs
    console.log(
        `\nSUMMARY rooms=${options.rooms} scale=${options.scale} wall=${(wallMs / 1000).toFixed(1)}s floor=${floor.seconds.toFixed(1)}s ` +
            `ratio=${floorMs > 0 ? (wallMs / floorMs).toFixed(2) : "n/a"} preInvites=${options.preInvites} invites=${report.invitesSent} joins=${count("join", ok)} ` +
            `waits=${waits.length} failed=${outcomes.get("failed") ?? 0} naiveFloor=${naiveFloor.seconds.toFixed(1)}s peakRSS=${mb(runPeak.rss)}`,
    );
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e instanceof Error ? (e.stack ?? e.message) : e);
        process.exit(1);
    },
);
