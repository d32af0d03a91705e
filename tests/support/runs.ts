/**
 * What the engine tests do around a run on the real servers: plan from what a sync of the old account shows (as a
 * front end would), and find one room's result in the report.
 */
import { buildPlan, type MigrationPlan } from "../../src/engine/plan.ts";
import type { MigrationReport } from "../../src/engine/migration.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import type { Actor } from "./scenario.ts";

/** The old account's snapshot from a sync, and the plan for moving it to `neu`. */
export async function planFromSync(old: Actor, neu: Actor, options: Partial<MigrationPlan["options"]> = {}) {
    const snapshot = await snapshotFromSync(old.http, old.userId);
    return { snapshot, plan: buildPlan(snapshot, neu.userId, options) };
}

/** One room's result in the report; a room missing from it fails the test by name. */
export function resultIn(report: MigrationReport, roomId: string): MigrationReport["rooms"][number] {
    const r = report.rooms.find((x) => x.roomId === roomId);
    if (!r) throw new Error(`${roomId} is not in the report`);
    return r;
}
