/**
 * The history audit's cost (issue 16): requests and seconds for the preview (state-only read of the visibility
 * changes) and the audit (both accounts page the timeline, the new backup is read back) — for an account of R rooms
 * with M messages each, and for one room of B messages (above the exact limit: the sampled method).
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/history.ts [--rooms 100] [--messages 1000] [--big 50000] [--port-base P]
 *
 * Servers A and B with every limit lifted (the audit reads; reads are not rate limited by Synapse). A builder on A
 * makes the rooms (`shared` history, so the audit compares every message) and sends the messages; the old account
 * (A) and the new account (B, over federation) join each. The new account's first read of a room makes B backfill
 * it from A: that is part of the measured cost, as in a real run. Reads go four at a time per account, as the
 * engine's scheduler allows ("old:read" and "new:read").
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

import "../tests/bed/quietConsole.ts";

import { type HistoryGet, auditHistory, previewHiddenHistory } from "../src/engine/history.ts";
import { MatrixHttp, seg } from "../src/sessions/matrixHttp.ts";
import { type Bed, registerUser, startHomeservers } from "../tests/bed/homeservers.ts";

export interface HistoryCost {
    rooms: number;
    messagesPerRoom: number;
    buildSeconds: number;
    preview: { requests: number; seconds: number };
    audit: {
        requests: number;
        seconds: number;
        methods: Record<string, number>;
        notVisible: number;
        oldSees: number;
        /** Re-reads of the new account's view the audit made while the new server backfilled, over all rooms. */
        tries: number;
        /** The most any one room needed. */
        maxTries: number;
    };
    /** The same audit again: the new server has backfilled the rooms by now (the first audit paid for that). */
    auditAgain: { requests: number; seconds: number; notVisible: number };
}

export interface HistoryFigures {
    account: HistoryCost;
    bigRoom: HistoryCost;
}

type Http = MatrixHttp;

function counting(http: Http): { get: HistoryGet; count(): number } {
    let n = 0;
    return {
        get: async <T>(path: string, query?: Record<string, string | number | undefined>) => {
            n++;
            const r = await http.request<T>("GET", path, { query });
            if (process.env.HISTORY_BENCH_DEBUG && path.endsWith("/messages")) {
                const page = r as { chunk?: unknown[]; end?: string };
                console.error(
                    `${http.baseUrl} ${String(query?.dir)} ${page.chunk?.length} end=${page.end !== undefined}`,
                );
            }
            return r;
        },
        count: () => n,
    };
}

/** Runs `tasks` with at most `concurrency` at a time. */
async function pool<T>(tasks: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
    const out: T[] = new Array(tasks.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
            while (next < tasks.length) {
                const i = next++;
                out[i] = await tasks[i]!();
            }
        }),
    );
    return out;
}

async function buildRooms(
    bed: Bed,
    tag: string,
    rooms: number,
    messages: number,
): Promise<{ old: Http; neu: Http; roomIds: string[]; seconds: number }> {
    const started = performance.now();
    const [builder, oldUser, newUser] = await Promise.all([
        registerUser(bed.a, `hb-builder-${tag}`, { admin: true }),
        registerUser(bed.a, `hb-old-${tag}`),
        registerUser(bed.b, `hb-new-${tag}`),
    ]);
    const b = new MatrixHttp(bed.a.baseUrl, builder.accessToken);
    const old = new MatrixHttp(bed.a.baseUrl, oldUser.accessToken);
    const neu = new MatrixHttp(bed.b.baseUrl, newUser.accessToken);
    const roomIds = await pool(
        Array.from({ length: rooms }, (_, i) => async () => {
            const { room_id: roomId } = await b.request<{ room_id: string }>("POST", "/createRoom", {
                body: { preset: "private_chat", name: `History ${i}`, invite: [oldUser.userId, newUser.userId] },
            });
            await old.request("POST", `/join/${seg(roomId)}`, { body: {} });
            // Eight sends in flight per room: the server orders them; a sequential loop is round-trip bound.
            await pool(
                Array.from(
                    { length: messages },
                    (_, m) => () =>
                        b.request("PUT", `/rooms/${seg(roomId)}/send/m.room.message/m${m}`, {
                            body: { msgtype: "m.text", body: `message ${m}` },
                        }),
                ),
                8,
            );
            await neu.request("POST", `/join/${seg(roomId)}`, { query: { server_name: bed.a.serverName }, body: {} });
            return roomId;
        }),
        8,
    );
    return { old, neu, roomIds, seconds: (performance.now() - started) / 1000 };
}

async function measure(bed: Bed, tag: string, rooms: number, messages: number): Promise<HistoryCost> {
    console.log(`Building ${rooms} room(s) × ${messages} messages…`);
    const built = await buildRooms(bed, tag, rooms, messages);
    console.log(`  built in ${built.seconds.toFixed(1)} s`);

    const preview = counting(built.old);
    let t = performance.now();
    await pool(
        built.roomIds.map((id) => () => previewHiddenHistory(preview.get, id, "shared")),
        4,
    );
    const previewSeconds = (performance.now() - t) / 1000;

    const oldGet = counting(built.old);
    const newGet = counting(built.neu);
    t = performance.now();
    const audits = await pool(
        built.roomIds.map((id) => () => auditHistory(oldGet.get, newGet.get, id)),
        4,
    );
    const auditSeconds = (performance.now() - t) / 1000;
    const [oldAgain, newAgain] = [counting(built.old), counting(built.neu)];
    t = performance.now();
    const again = await pool(
        built.roomIds.map((id) => () => auditHistory(oldAgain.get, newAgain.get, id)),
        4,
    );
    const againSeconds = (performance.now() - t) / 1000;
    const methods: Record<string, number> = {};
    for (const a of audits) methods[a.method] = (methods[a.method] ?? 0) + 1;
    const cost: HistoryCost = {
        rooms,
        messagesPerRoom: messages,
        buildSeconds: built.seconds,
        preview: { requests: preview.count(), seconds: previewSeconds },
        audit: {
            requests: oldGet.count() + newGet.count(),
            seconds: auditSeconds,
            methods,
            notVisible: audits.reduce((n, a) => n + a.notVisible, 0),
            oldSees: audits.reduce((n, a) => n + a.oldSees, 0),
            tries: audits.reduce((n, a) => n + a.tries, 0),
            maxTries: Math.max(0, ...audits.map((a) => a.tries)),
        },
        auditAgain: {
            requests: oldAgain.count() + newAgain.count(),
            seconds: againSeconds,
            notVisible: again.reduce((n, a) => n + a.notVisible, 0),
        },
    };
    console.log(
        `  preview: ${cost.preview.requests} requests, ${previewSeconds.toFixed(2)} s; audit: ${cost.audit.requests} requests, ` +
            `${auditSeconds.toFixed(2)} s (${JSON.stringify(methods)}, ${cost.audit.oldSees} compared, ${cost.audit.notVisible} not visible, ` +
            `${cost.audit.tries} re-reads, at most ${cost.audit.maxTries} in a room); ` +
            `again: ${cost.auditAgain.requests} requests, ${againSeconds.toFixed(2)} s, ${cost.auditAgain.notVisible} not visible`,
    );
    return cost;
}

export async function benchHistory(options: {
    rooms: number;
    messages: number;
    big: number;
    portBase: number;
}): Promise<HistoryFigures> {
    let bed: Bed | undefined;
    try {
        bed = await startHomeservers({
            portBase: options.portBase,
            limits: { kind: "functional" },
            log: (l) => console.error(l),
        });
        const account = await measure(bed, "acct", options.rooms, options.messages);
        const bigRoom = await measure(bed, "big", 1, options.big);
        return { account, bigRoom };
    } finally {
        await bed?.stop();
    }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const argv = process.argv.slice(2);
    const value = (flag: string) => {
        const i = argv.indexOf(flag);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const figures = await benchHistory({
        rooms: Number(value("--rooms") ?? 100),
        messages: Number(value("--messages") ?? 1000),
        big: Number(value("--big") ?? 50_000),
        portBase: Number(value("--port-base") ?? process.env.MIGRATE_BED_PORT_BASE ?? 9780),
    });
    console.log(JSON.stringify(figures, null, 2));
    process.exit(0);
}
