/**
 * Encrypted history, end to end on two real servers with real Rust crypto: after migration a FRESH device of the new
 * account, given only the new recovery key, restores its key backup and decrypts every pre-migration message —
 * including messages whose keys the old account's current device never had (they exist only in its backup).
 * The same through the key-file route.
 */
import type { MatrixClient } from "matrix-js-sdk";
import { OlmMachine } from "@matrix-org/matrix-sdk-crypto-wasm";

import { buildPlan } from "../../src/engine/plan.ts";
import { type MigrationReport, runMigration } from "../../src/engine/migration.ts";
import { exportKeyFile } from "../../src/keys/keyFileExport.ts";
import { prepareKeyHandover } from "../../src/keys/prepare.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { startClient, stopAllClients, waitForDecryptedMessage } from "../bed/clients.ts";
import type { RegisteredUser } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { decryptedBodies, freshDeviceFromRecoveryKey, loginDevice } from "./history.ts";
import {
    DEMO_CONVERSATIONS,
    DEMO_ENCRYPTED_ROOMS,
    type DemoAccounts,
    randomDemoAccountSpecs,
    seedDemoAccounts,
} from "../fixtures/demoAccounts.ts";

async function knowsDevice(client: MatrixClient, userId: string, deviceId: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
        const devices = await client.getCrypto()!.getUserDeviceInfo([userId], true);
        if (devices.get(userId)?.has(deviceId)) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${client.getUserId()} never learned of ${userId}'s device ${deviceId}`);
}

/**
 * What a room's history should hold: the seeded conversation and what was said on the old account's current device
 * (sorted: lines sent at once from two servers may be ordered either way).
 */
function expectedBodies(demo: DemoAccounts, room: keyof DemoAccounts["rooms"], extra: Map<string, string[]>): string[] {
    return [...DEMO_CONVERSATIONS[room].map(([, text]) => text), ...(extra.get(demo.rooms[room]) ?? [])].sort();
}

describe("encrypted history reaches the new account", () => {
    let demo: DemoAccounts;
    let current: { client: MatrixClient; user: RegisteredUser };
    const saidOnCurrentDevice = new Map<string, string[]>();
    let report: MigrationReport;
    let oldBackup: Awaited<ReturnType<typeof prepareKeyHandover>>["oldBackup"];

    beforeAll(async () => {
        const bed = currentBed();
        demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
        // The old account's "current Element session": a device that signed in after all the seeded history, so it
        // never received those keys (they are only in the backup). It then takes part in new conversation.
        const bob = await startClient(await loginDevice(bed.a, demo.users.bob, "Bob's phone"));
        const user = await loginDevice(bed.a, demo.users.alice, "Alice's current session");
        const client = await startClient(user);
        current = { client, user };
        // Each side must know the other's new device before encrypting, or it would not get the keys.
        await knowsDevice(client, bob.getUserId()!, bob.getDeviceId()!);
        await knowsDevice(bob, user.userId, user.deviceId);
        for (const room of ["projectTeam", "dmBob", "bookClub"] as const) {
            const roomId = demo.rooms[room];
            const line = `Said on alice's current device in ${room} at ${Date.now()}`;
            await client.sendTextMessage(roomId, line);
            await waitForDecryptedMessage(bob, roomId, line);
            saidOnCurrentDevice.set(roomId, [line]);
        }
        const fromBob = `Bob answers alice's current device ${Date.now()}`;
        await bob.sendTextMessage(demo.rooms.dmBob, fromBob);
        await waitForDecryptedMessage(client, demo.rooms.dmBob, fromBob);
        saidOnCurrentDevice.get(demo.rooms.dmBob)!.push(fromBob);

        // Migrate as the Element module does: the old side is that session, with its crypto as a key source.
        const old = { userId: user.userId, http: new MatrixHttp(bed.a.baseUrl, user.accessToken) };
        const newDevice = await loginDevice(bed.b, demo.users.aliceNew, "Migration");
        const neu = {
            userId: newDevice.userId,
            http: new MatrixHttp(bed.b.baseUrl, newDevice.accessToken),
            baseUrl: bed.b.baseUrl,
        };
        const prepared = await prepareKeyHandover({
            old,
            new: neu,
            oldCrypto: client.getCrypto()!,
            oldRecoveryKey: demo.recoveryKeys.alice,
            newRecoveryKey: demo.recoveryKeys.aliceNew,
        });
        oldBackup = prepared.oldBackup;
        const snapshot = await snapshotFromSync(old.http, old.userId);
        report = await runMigration(
            buildPlan(snapshot, neu.userId, { leaveOldRooms: false }),
            snapshot,
            { old, new: neu },
            { keys: prepared.handover },
        );
    });

    afterAll(() => stopAllClients());

    test("the report proves, room by room, that every session found was handed over", () => {
        const keys = report.keys as {
            sessionsFound: number;
            sessionsUploaded: number;
            trust: string;
            sources: Record<string, number>;
            perRoom: Record<string, { found: number; handedOver: number; missing: number }>;
        };
        expect(keys.trust).toBe("recovery-key");
        // Sessions from both sources: the current device's own, and the backup's (which that device never saw).
        expect(keys.sources.oldSession).toBeGreaterThan(0);
        expect(keys.sources.oldBackup).toBe(demo.aliceMegolmSessions);
        for (const room of DEMO_ENCRYPTED_ROOMS) {
            const perRoom = keys.perRoom[demo.rooms[room]];
            expect({ room, missing: perRoom.missing, found: perRoom.found > 0 }).toEqual({
                room,
                missing: 0,
                found: true,
            });
            expect(perRoom.handedOver).toBe(perRoom.found);
        }
        expect(keys.sessionsUploaded).toBe(keys.sessionsFound);
        expect(
            report.rooms
                .filter((r) => r.steps.some((s) => s.startsWith("keys")))
                .map((r) => r.steps.find((s) => s.startsWith("keys"))),
        ).not.toContain(expect.stringMatching(/not handed over/));
    });

    test("a fresh device of the new account, given only the new recovery key, decrypts every earlier message", async () => {
        const bed = currentBed();
        const fresh = await freshDeviceFromRecoveryKey(bed.b, demo.users.aliceNew, demo.recoveryKeys.aliceNew);
        expect(fresh.imported).toBe((report.keys as { sessionsFound: number }).sessionsFound);
        let total = 0;
        for (const room of DEMO_ENCRYPTED_ROOMS) {
            const roomId = demo.rooms[room];
            const { bodies, failures } = await decryptedBodies(fresh.client, fresh.device, roomId);
            const expected = expectedBodies(demo, room, saidOnCurrentDevice);
            expect({ room, failures, bodies: bodies.sort() }).toEqual({ room, failures: 0, bodies: expected });
            total += expected.length;
        }
        // 23 seeded lines in the encrypted rooms, plus four said on the current device.
        expect(total).toBe(DEMO_ENCRYPTED_ROOMS.reduce((n, r) => n + DEMO_CONVERSATIONS[r].length, 0) + 4);
    });

    test("through the key-file route, Element's format imports and decrypts the same messages", async () => {
        const bed = currentBed();
        const old = { userId: current.user.userId, http: new MatrixHttp(bed.a.baseUrl, current.user.accessToken) };
        const passphrase = "correct horse battery staple";
        const file = await exportKeyFile({
            old,
            roomIds: DEMO_ENCRYPTED_ROOMS.map((r) => demo.rooms[r]),
            local: current.client.getCrypto()!,
            oldBackup,
            passphrase,
        });
        expect(file.text.startsWith("-----BEGIN MEGOLM SESSION DATA-----")).toBe(true);

        // Import it the way Element does ("Import E2E room keys"), on a device that knows nothing else.
        const device = await loginDevice(bed.b, demo.users.aliceNew, "Key file import");
        const client = await startClient(device);
        await expect(
            Promise.resolve().then(() => OlmMachine.decryptExportedRoomKeys(file.text, "wrong passphrase")),
        ).rejects.toThrow();
        await client.getCrypto()!.importRoomKeysAsJson(OlmMachine.decryptExportedRoomKeys(file.text, passphrase));
        for (const room of DEMO_ENCRYPTED_ROOMS) {
            const { bodies, failures } = await decryptedBodies(client, device, demo.rooms[room]);
            expect({ room, failures, bodies: bodies.sort() }).toEqual({
                room,
                failures: 0,
                bodies: expectedBodies(demo, room, saidOnCurrentDevice),
            });
        }
    });
});
