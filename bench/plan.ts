/**
 * Planning from synced state (not a test: it prints figures). What the Element page does when it shows the plan:
 * `buildPlan(snapshotFromClient(client))` on the client Element has already synced.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/plan.ts [--rooms 1000] [--repeat 5] [--port-base P]
 *
 * Builds an account in N rooms on server A (bench/referenceAccount.ts), syncs a real matrix-js-sdk client for it
 * (no crypto, full member lists, as Element's store holds them), stops the client's sync loop, and then times the
 * plan several times while counting every request made meanwhile — through the client's own fetch and the global
 * fetch — to prove it needs none. For comparison it also times the CLI's way: one full-state /sync, then the plan.
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

import { ClientEvent, SyncState, createClient } from "matrix-js-sdk";

import "../tests/bed/quietConsole.ts";

import { buildPlan } from "../src/engine/plan.ts";
import { type SyncedClient, snapshotFromClient, snapshotFromSync } from "../src/sessions/snapshots.ts";
import { type Bed, startHomeservers } from "../tests/bed/homeservers.ts";
import { buildLargeAccount } from "./referenceAccount.ts";

export interface PlanFigures {
    rooms: number;
    /** The median of the timed plans from synced state, and each of them. */
    medianMs: number;
    runsMs: number[];
    /** Requests made while planning from synced state (client fetch + global fetch). */
    requests: number;
    roomsPlanned: number;
    /** The CLI's way: one full-state /sync (ms), then the plan (ms). */
    cliSyncMs: number;
    cliPlanMs: number;
    buildSeconds: number;
    clientSyncMs: number;
}

export async function benchPlan(options: { rooms: number; repeat: number; portBase: number }): Promise<PlanFigures> {
    let bed: Bed | undefined;
    try {
        bed = await startHomeservers({
            portBase: options.portBase,
            limits: { kind: "functional" },
            log: (l) => console.error(l),
        });
        console.log(`Building an account in ${options.rooms} rooms on A…`);
        const { owner, seconds: buildSeconds } = await buildLargeAccount(bed, options.rooms);
        console.log(`  built in ${buildSeconds.toFixed(1)} s`);

        // Every request made while counting, through the client's fetch or any other: the global fetch is wrapped,
        // and the client's goes through it.
        const requested: string[] = [];
        let counting = false;
        const globalFetch = globalThis.fetch;
        globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
            if (counting)
                requested.push(`${init?.method ?? "GET"} ${input instanceof Request ? input.url : String(input)}`);
            return globalFetch(input, init);
        }) as typeof fetch;
        const countingFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

        const client = createClient({
            baseUrl: bed.a.baseUrl,
            userId: owner.userId,
            deviceId: owner.deviceId,
            accessToken: owner.accessToken,
            fetchFn: countingFetch,
        });
        const syncStarted = performance.now();
        const prepared = new Promise<void>((resolve, reject) => {
            client.on(ClientEvent.Sync, (state: SyncState) => {
                if (state === SyncState.Prepared) resolve();
                if (state === SyncState.Error) reject(new Error("The client's first sync failed"));
            });
        });
        await client.startClient({ initialSyncLimit: 1, lazyLoadMembers: false });
        await prepared;
        const clientSyncMs = performance.now() - syncStarted;
        client.stopClient();
        // Let the sync loop notice it was stopped (its last long-poll is aborted) before anything is counted.
        await new Promise((r) => setTimeout(r, 1000));
        console.log(
            `  matrix-js-sdk client synced ${client.getRooms().length} rooms in ${(clientSyncMs / 1000).toFixed(1)} s; sync loop stopped`,
        );

        const newUserId = `@new-account:${bed.b.serverName}`;
        const runsMs: number[] = [];
        let roomsPlanned = 0;
        counting = true;
        for (let i = 0; i < options.repeat; i++) {
            const t = performance.now();
            const plan = buildPlan(snapshotFromClient(client as unknown as SyncedClient), newUserId);
            runsMs.push(performance.now() - t);
            roomsPlanned = plan.rooms.length;
            // Anything the plan might have started asynchronously gets its chance to show up in the count.
            await new Promise((r) => setTimeout(r, 50));
        }
        counting = false;
        globalThis.fetch = globalFetch;
        const requests = requested.length;
        for (const r of requested) console.log(`  request while planning: ${r}`);
        const sorted = [...runsMs].sort((a, b) => a - b);
        const medianMs = sorted[Math.floor(sorted.length / 2)]!;

        const t = performance.now();
        const snapshot = await snapshotFromSync(owner.http, owner.userId);
        const cliSyncMs = performance.now() - t;
        const t2 = performance.now();
        buildPlan(snapshot, newUserId);
        const cliPlanMs = performance.now() - t2;

        console.log(
            `  plan from synced state: ${roomsPlanned} rooms, median ${medianMs.toFixed(1)} ms (runs ${runsMs.map((x) => x.toFixed(1)).join(", ")} ms; the first includes JIT warm-up), ` +
                `${requests} requests`,
        );
        console.log(
            `  the CLI's way: one full-state /sync ${(cliSyncMs / 1000).toFixed(2)} s, then the plan ${cliPlanMs.toFixed(1)} ms`,
        );
        return {
            rooms: options.rooms,
            medianMs,
            runsMs,
            requests,
            roomsPlanned,
            cliSyncMs,
            cliPlanMs,
            buildSeconds,
            clientSyncMs,
        };
    } finally {
        await bed?.stop();
    }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const argv = process.argv.slice(2);
    const value = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    benchPlan({
        rooms: Number(value("--rooms") ?? 1000),
        repeat: Number(value("--repeat") ?? 5),
        portBase: Number(value("--port-base") ?? process.env.MIGRATE_BED_PORT_BASE ?? 9780),
    }).then(
        () => process.exit(0),
        (e) => {
            console.error(e instanceof Error ? (e.stack ?? e.message) : e);
            process.exit(1);
        },
    );
}
