/**
 * The two ways the old account reaches the planner — Element's already-synced client, and the CLI's one /sync —
 * must plan the same migration. Real servers, a real matrix-js-sdk client.
 */
import { buildPlan } from "../../src/engine/plan.ts";
import { type SyncedClient, snapshotFromClient, snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { startClient, stopAllClients, waitFor } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { buildScenario } from "../support/scenario.ts";

afterAll(() => stopAllClients());

test("a plan from Element's synced client equals the plan from one full-state /sync", async () => {
    const s = await buildScenario(currentBed());
    const client = await startClient(s.alice, { crypto: false });
    // The client has synced every room of the scenario (joined and invited).
    const expectedRooms = Object.values(s.rooms).length;
    await waitFor(client, () => client.getRooms().length >= expectedRooms, "alice's client to know all her rooms");

    const fromSync = buildPlan(await snapshotFromSync(s.alice.http, s.alice.userId), s.newAccount.userId);
    const fromClient = buildPlan(snapshotFromClient(client as unknown as SyncedClient), s.newAccount.userId);
    const essentials = (plan: typeof fromSync) =>
        plan.rooms.map((r) => ({
            roomId: r.roomId,
            name: r.name,
            kind: r.kind,
            route: r.route,
            status: r.status,
            target: r.targetPowerLevel,
            joinAfterSpace: r.joinAfterSpace,
            blockers: r.blockers.map((b) => b.code),
            tags: r.roomAccountData["m.tag"] ?? null,
        }));
    expect(essentials(fromClient)).toEqual(essentials(fromSync));
    expect(fromClient.pendingInvites).toEqual(fromSync.pendingInvites);
    expect(fromClient.optionalAccountData.map((o) => o.type)).toEqual(fromSync.optionalAccountData.map((o) => o.type));
    expect(fromSync.rooms.length).toBe(expectedRooms - 1); // the pending invite is listed apart
});
