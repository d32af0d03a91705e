/**
 * Jest global set-up and tear-down: one pair of fresh homeservers for the whole run (tests use unique user names,
 * so they can share it). Workers find the servers through MIGRATE_BED, a JSON description set before they start.
 */
import type { Bed, Homeserver } from "./homeservers.ts";
import { startHomeservers } from "./homeservers.ts";
import { stopRealMasIfRunning } from "./mas.ts";

const KEY = Symbol.for("matrix-account-migration.bed");

export async function setup(): Promise<void> {
    if (process.env.MIGRATE_BED === "off") return;
    const bed = await startHomeservers();
    (globalThis as Record<symbol, Bed>)[KEY] = bed;
    process.env.MIGRATE_BED = JSON.stringify({ a: bed.a, b: bed.b, caFile: bed.caFile, stateDir: bed.stateDir });
}

export async function teardown(): Promise<void> {
    const bed = (globalThis as Record<symbol, Bed | undefined>)[KEY];
    // A test file that started the real MAS stops it itself; this catches one that failed before its afterAll.
    if (bed) await stopRealMasIfRunning(bed.stateDir).catch(() => undefined);
    await bed?.stop();
}

export interface BedDescription {
    a: Homeserver;
    b: Homeserver;
    caFile: string;
    stateDir: string;
}

/** For tests: the running bed, or a clear failure when the suite was started without one. */
export function currentBed(): BedDescription {
    const raw = process.env.MIGRATE_BED;
    if (!raw || raw === "off")
        throw new Error("No test homeservers: run through `npm test` (jest global set-up starts them).");
    return JSON.parse(raw) as BedDescription;
}
