/**
 * Planning with hostile server ACLs (not a test: it prints figures). Issue 15: a room admin's `m.room.server_acl` of
 * backtracking globs (`"*"` × 40 then `"!"`, and `*a*a…*b`) froze the plan for 29 s when globs were RegExps.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/aclPlan.ts [--rooms 1000] [--repeat 9] [--new-server 127.0.0.1:8449]
 *
 * Times `buildPlan` (what the page and the CLI do to show the plan) for one account in N rooms, four times over: no
 * room with a server ACL, every room with an ordinary one (`allow: ["*"]`, a deny list of plain names), every room
 * with the two hostile globs in its deny list (before the ordinary names, so each is matched), and every room
 * with those and a 60,000-character glob (about the most one event can hold). Planning needs no server:
 * the account is plain data, as `snapshotFromClient` makes it, of the same mix as bench/plan.ts. The new account's
 * server defaults to the test bed's B (an IP literal, as in the issue).
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

import { buildPlan } from "../src/engine/plan.ts";
import type { AccountSnapshot, RoomSource, StateEvent } from "../src/engine/snapshot.ts";

/** The globs of issue 15; and one as large as an event allows (64 KiB). Flat strings, as JSON.parse makes them. */
export const HOSTILE_GLOBS: string[] = JSON.parse(JSON.stringify(["*".repeat(40) + "!", "*a".repeat(200) + "*b"]));
const LARGEST_GLOB: string = JSON.parse(JSON.stringify("*".repeat(60_000) + "!"));
const ORDINARY_DENY = ["evil.example", "*.evil.example", "spam.example.org"];

export interface AclPlanFigures {
    rooms: number;
    /** Median of the timed plans, per variant (ms), and every run. */
    withoutAclMs: number;
    ordinaryAclMs: number;
    hostileAclMs: number;
    largestAclMs: number;
    runsMs: Record<Variant, number[]>;
    /** hostile ÷ without. */
    ratio: number;
    /** The plan with the hostile globs says the same of every room as the plan without them. */
    samePlan: boolean;
}

const OLD = "@alice:localhost:8448";
const VARIANTS = ["without", "ordinary", "hostile", "largest"] as const;
type Variant = (typeof VARIANTS)[number];

/** One room as the old account's synced client has it: create, name, join rule, power levels, members. */
function room(i: number, acl: Record<string, unknown> | undefined): RoomSource {
    const kind = i % 10 === 0 ? "dm" : i % 10 === 1 ? "public" : "group";
    const members = [OLD, ...Array.from({ length: 1 + (i % 7) }, (_, m) => `@member${m}-${i}:localhost:8448`)];
    const state: StateEvent[] = [
        { type: "m.room.create", state_key: "", sender: OLD, content: { room_version: "10", creator: OLD } },
        {
            type: "m.room.join_rules",
            state_key: "",
            sender: OLD,
            content: { join_rule: kind === "public" ? "public" : "invite" },
        },
        {
            type: "m.room.power_levels",
            state_key: "",
            sender: OLD,
            content: { users: { [OLD]: 100 }, invite: 0, events: { "m.room.power_levels": 100 } },
        },
        ...members.map((m) => ({ type: "m.room.member", state_key: m, sender: m, content: { membership: "join" } })),
    ];
    if (kind !== "dm") state.push({ type: "m.room.name", state_key: "", sender: OLD, content: { name: `Room ${i}` } });
    if (i % 3 === 0)
        state.push({
            type: "m.room.encryption",
            state_key: "",
            sender: OLD,
            content: { algorithm: "m.megolm.v1.aes-sha2" },
        });
    if (acl) state.push({ type: "m.room.server_acl", state_key: "", sender: OLD, content: acl });
    return { roomId: `!room${i}:localhost:8448`, membership: "join", state, accountData: {} };
}

function account(rooms: number, acl: Record<string, unknown> | undefined): AccountSnapshot {
    const list = Array.from({ length: rooms }, (_, i) => room(i, acl));
    const direct: Record<string, string[]> = {};
    for (let i = 0; i < rooms; i += 10) direct[`@member0-${i}:localhost:8448`] = [`!room${i}:localhost:8448`];
    return { userId: OLD, rooms: list, accountData: { "m.direct": direct } };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function benchAclPlan(options: { rooms: number; repeat: number; newServer: string }): AclPlanFigures {
    const newUserId = `@new-account:${options.newServer}`;
    const denying = (deny: string[]) => ({ allow: ["*"], deny, allow_ip_literals: true });
    const variants: Record<Variant, AccountSnapshot> = {
        without: account(options.rooms, undefined),
        ordinary: account(options.rooms, denying(ORDINARY_DENY)),
        hostile: account(options.rooms, denying([...HOSTILE_GLOBS, ...ORDINARY_DENY])),
        largest: account(options.rooms, denying([...HOSTILE_GLOBS, LARGEST_GLOB, ...ORDINARY_DENY])),
    };
    const runsMs: Record<Variant, number[]> = { without: [], ordinary: [], hostile: [], largest: [] };
    const summaries: Partial<Record<Variant, string>> = {};
    // Alternating rounds, so load elsewhere on the machine hits every variant alike; the first includes JIT warm-up.
    for (let i = 0; i < options.repeat; i++) {
        for (const name of VARIANTS) {
            const t = performance.now();
            const plan = buildPlan(variants[name], newUserId);
            runsMs[name].push(performance.now() - t);
            summaries[name] = JSON.stringify(plan.rooms.map((r) => [r.roomId, r.status, r.route, r.blockers.length]));
        }
    }
    const figures: AclPlanFigures = {
        rooms: options.rooms,
        withoutAclMs: median(runsMs.without),
        ordinaryAclMs: median(runsMs.ordinary),
        hostileAclMs: median(runsMs.hostile),
        largestAclMs: median(runsMs.largest),
        runsMs,
        ratio: median(runsMs.hostile) / median(runsMs.without),
        samePlan: summaries.hostile === summaries.without && summaries.largest === summaries.without,
    };
    const runs = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
    console.log(`Planning ${options.rooms} rooms for ${newUserId} (median of ${options.repeat}):`);
    console.log(
        `  no server ACL:                 ${figures.withoutAclMs.toFixed(1)} ms (runs ${runs(runsMs.without)})`,
    );
    console.log(
        `  an ordinary ACL in every room: ${figures.ordinaryAclMs.toFixed(1)} ms (runs ${runs(runsMs.ordinary)})`,
    );
    console.log(
        `  issue 15's globs in every room (${HOSTILE_GLOBS.map((g) => g.length).join(" + ")} characters): ` +
            `${figures.hostileAclMs.toFixed(1)} ms (runs ${runs(runsMs.hostile)})`,
    );
    console.log(
        `  and a ${LARGEST_GLOB.length}-character glob in every room: ${figures.largestAclMs.toFixed(1)} ms (runs ${runs(runsMs.largest)})`,
    );
    console.log(
        `  ratio issue 15's globs ÷ none: ${figures.ratio.toFixed(2)} (÷ an ordinary ACL: ${(figures.hostileAclMs / figures.ordinaryAclMs).toFixed(2)}); ` +
            `the plan ${figures.samePlan ? "is the same" : "DIFFERS"} with and without them`,
    );
    return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const argv = process.argv.slice(2);
    const value = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    benchAclPlan({
        rooms: Number(value("--rooms") ?? 1000),
        repeat: Number(value("--repeat") ?? 9),
        newServer: value("--new-server") ?? "127.0.0.1:8449",
    });
}
