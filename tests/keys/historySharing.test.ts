/**
 * Encrypted-history sharing on invite (MSC4268), as the Element module uses it: when the old side runs crypto, its
 * invites go through matrix-js-sdk's `invite`, which shares the room's keys with the invitee's devices where the
 * history visibility allows. Real servers, real Rust crypto; the key backup stays the route that always works.
 */
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";

import { buildPlan } from "../../src/engine/plan.ts";
import { runMigration } from "../../src/engine/migration.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { startClient, stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { randomDemoAccountSpecs, seedDemoAccounts } from "../fixtures/demoAccounts.ts";
import { loginDevice } from "./history.ts";

afterAll(() => stopAllClients());

test("invites from a verified old session share room history; others are plain invites", async () => {
    const bed = currentBed();
    const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    // The old session, verified with the old recovery key (as after "Verify with recovery key" in Element).
    const device = await loginDevice(bed.a, demo.users.alice, "Alice's verified session");
    const key = decodeRecoveryKey(demo.recoveryKeys.alice);
    const client = await startClient(device, {
        cryptoCallbacks: { getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], key] },
    });
    // Learn the account's public cross-signing keys first, so the private ones from secret storage can be checked.
    expect(await client.getCrypto()!.userHasCrossSigningKeys(device.userId, true)).toBe(true);
    await client.getCrypto()!.bootstrapCrossSigning({});
    expect(await client.getCrypto()!.isCrossSigningReady()).toBe(true);
    // And able to read its backup, where the keys of the earlier history are.
    await client.getCrypto()!.loadSessionBackupPrivateKeyFromSecretStorage();
    await client.getCrypto()!.checkKeyBackupAndEnable();

    const sharedWith: string[] = [];
    const old = {
        userId: device.userId,
        http: new MatrixHttp(bed.a.baseUrl, device.accessToken),
        inviteSharingHistory: async (roomId: string, userId: string) => {
            sharedWith.push(roomId);
            await client.invite(roomId, userId);
        },
    };
    const newDevice = await loginDevice(bed.b, demo.users.aliceNew, "migration");
    const neu = { userId: newDevice.userId, http: new MatrixHttp(bed.b.baseUrl, newDevice.accessToken) };
    const snapshot = await snapshotFromSync(old.http, old.userId);
    const plan = buildPlan(snapshot, neu.userId);
    const mark = logMark([bed.a, bed.b]);
    const report = await runMigration(plan, snapshot, { old, new: neu });

    // Encrypted rooms reached by invite (history visibility "shared"): shared; the space (unencrypted), the public
    // room and the restricted room (joined without an invite) are not.
    const expected = plan.rooms.filter((r) => r.route === "invite" && r.encrypted).map((r) => r.roomId);
    expect(expected.sort()).toEqual(
        [demo.rooms.projectTeam, demo.rooms.bookClub, demo.rooms.dmBob, demo.rooms.dmCarol].sort(),
    );
    expect(sharedWith.sort()).toEqual(expected.sort());
    expect(report.rooms.filter((r) => r.invited).length).toBe(expected.length + 1); // + the space, invited plainly

    // matrix-js-sdk really shared: it uploaded the encrypted key bundles and sent them to the new account's devices.
    const byOldSession = (await requestsSince([bed.a], mark)).filter((r) => r.user === device.userId);
    expect(
        byOldSession.filter((r) => r.method === "POST" && r.path.startsWith("/_matrix/media/v3/upload")).length,
    ).toBeGreaterThanOrEqual(expected.length);
    expect(byOldSession.some((r) => r.method === "PUT" && r.path.startsWith("/_matrix/client/v3/sendToDevice/"))).toBe(
        true,
    );
});
