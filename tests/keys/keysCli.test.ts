/**
 * Keys through the CLI and the edge cases: recovery keys from the environment, a new account without a backup (set
 * up by the tool), a backup replaced mid-run, and an old session with no keys at all. Real servers, real Rust crypto.
 * (A wrong or malformed recovery key and a backup that is not the account's own are in the bad-input table,
 * tests/badInput.)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { buildPlan } from "../../src/engine/plan.ts";
import { runMigration } from "../../src/engine/migration.ts";
import { prepareKeyHandover } from "../../src/keys/prepare.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { startClient, stopAllClients } from "../bed/clients.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";
import {
    DEMO_ENCRYPTED_ROOMS,
    type DemoAccounts,
    randomDemoAccountSpecs,
    seedDemoAccounts,
} from "../fixtures/demoAccounts.ts";
import { decryptedBodies, loginDevice } from "./history.ts";
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";

const CLI = path.join(PROJECT_ROOT, "dist", "cli", "matrix-account-migrate.js");
const workDir = mkdtempSync(path.join(tmpdir(), "migrate-keys-"));

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
        env: { PATH: process.env.PATH ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", () => undefined);
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

let demo: DemoAccounts;

beforeAll(async () => {
    demo = await seedDemoAccounts(currentBed(), () => undefined, randomDemoAccountSpecs());
});

afterAll(() => stopAllClients());

function args(extra: string[] = []): string[] {
    const bed = currentBed();
    return [
        "--old-homeserver",
        bed.a.baseUrl,
        "--old-user",
        demo.users.alice.userId,
        "--new-user",
        demo.users.aliceNew.userId,
        "--new-homeserver",
        bed.b.baseUrl,
        ...extra,
    ];
}

function passwords(extra: Record<string, string> = {}): Record<string, string> {
    return {
        MIGRATE_OLD_PASSWORD: demo.users.alice.password,
        MIGRATE_NEW_PASSWORD: demo.users.aliceNew.password,
        ...extra,
    };
}

test("the CLI reads the old backup with its recovery key and writes the keys section of the report", async () => {
    const reportFile = path.join(workDir, "keys.json");
    const result = await runCli(
        args(["--yes", "--report", reportFile]),
        passwords({
            MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
            MIGRATE_NEW_RECOVERY_KEY: demo.recoveryKeys.aliceNew,
        }),
    );
    expect(result.stderr).toMatch(/Room keys: \d+ found, \d+ handed over, 0 missing/);
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    expect(report.keys).toMatchObject({
        sessionsFound: demo.aliceMegolmSessions,
        sessionsUploaded: demo.aliceMegolmSessions,
        trust: "recovery-key",
    });
    expect(report.keys.backupVersion).toBe(demo.backupVersions.aliceNew);
    for (const room of DEMO_ENCRYPTED_ROOMS)
        expect(report.keys.perRoom[demo.rooms[room]]).toMatchObject({ missing: 0 });
    // Exit 3: alice moderates Town square but may not change its power levels, so an admin must act there.
    expect(
        report.rooms
            .filter((r: { outcome: string }) => r.outcome === "needs-action")
            .map((r: { roomId: string }) => r.roomId),
    ).toEqual([demo.rooms.townSquare]);
    expect(result.code).toBe(3);
});

test("a new account without a backup: the CLI sets up recovery, shows the key once, and that key restores the history", async () => {
    const bed = currentBed();
    const fresh = await registerUser(bed.b, uniqueLocalpart("blank"));
    const reportFile = path.join(workDir, "setup.json");
    const result = await runCli(
        [
            ...[
                "--old-homeserver",
                bed.a.baseUrl,
                "--old-user",
                demo.users.alice.userId,
                "--new-user",
                fresh.userId,
                "--new-homeserver",
                bed.b.baseUrl,
            ],
            ...["--yes", "--set-up-new-backup", "--report", reportFile],
        ],
        {
            MIGRATE_OLD_PASSWORD: demo.users.alice.password,
            MIGRATE_NEW_PASSWORD: fresh.password,
            MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
        },
    );
    const shown = /shown only this once — store it safely:\s+(\S+(?: \S{4})+)/.exec(result.stderr)?.[1];
    expect(shown).toBeDefined();
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    expect(report.keys).toMatchObject({ trust: "created", sessionsUploaded: demo.aliceMegolmSessions });

    const device = await loginDevice(bed.b, fresh, "after set-up");
    const key = decodeRecoveryKey(shown!);
    const client = await startClient(device, {
        cryptoCallbacks: { getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], key] },
    });
    await client.getCrypto()!.loadSessionBackupPrivateKeyFromSecretStorage();
    expect((await client.getCrypto()!.restoreKeyBackup()).imported).toBe(demo.aliceMegolmSessions);
    const { failures, bodies } = await decryptedBodies(client, device, demo.rooms.dmBob);
    expect(failures).toBe(0);
    expect(bodies.length).toBeGreaterThan(0);
});

test("without a backup and without --set-up-new-backup, keys wait and the report says what to do", async () => {
    const bed = currentBed();
    const fresh = await registerUser(bed.b, uniqueLocalpart("nobackup"));
    const reportFile = path.join(workDir, "nobackup.json");
    const result = await runCli(
        [
            "--old-homeserver",
            bed.a.baseUrl,
            "--old-user",
            demo.users.alice.userId,
            "--new-user",
            fresh.userId,
            "--new-homeserver",
            bed.b.baseUrl,
            "--yes",
            "--leave-old-rooms",
            "--report",
            reportFile,
        ],
        {
            MIGRATE_OLD_PASSWORD: demo.users.alice.password,
            MIGRATE_NEW_PASSWORD: fresh.password,
            MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
        },
    );
    expect(result.code).toBe(3);
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    expect(report.keys.error).toMatch(/has no key backup.*set up recovery/);
    // The safety gate: no encrypted room was left, because its keys were not handed over.
    for (const room of DEMO_ENCRYPTED_ROOMS) {
        const r = report.rooms.find((x: { roomId: string }) => x.roomId === demo.rooms[room]);
        expect({ room, left: r.left }).toEqual({ room, left: false });
    }
    // Book club is carol's (alice is no creator there, and needs no power), so only the missing keys keep her.
    const encryptedRoom = report.rooms.find((x: { roomId: string }) => x.roomId === demo.rooms.bookClub);
    expect(encryptedRoom.steps).toContain("stayed: the new account has no key backup to receive the keys.");
});

test("a backup deleted mid-run stops the hand-over with a clear error and keeps encrypted rooms", async () => {
    const bed = currentBed();
    const other = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    const oldUser = await loginDevice(bed.a, other.users.alice, "engine");
    const newUser = await loginDevice(bed.b, other.users.aliceNew, "engine");
    const old = { userId: oldUser.userId, http: new MatrixHttp(bed.a.baseUrl, oldUser.accessToken) };
    // The new side deletes its own backup right before the first upload: what another client of the user might do.
    const realHttp = new MatrixHttp(bed.b.baseUrl, newUser.accessToken);
    let deleted = false;
    const sabotage = Object.create(realHttp) as MatrixHttp;
    sabotage.request = async (method, p, opts) => {
        if (!deleted && method === "PUT" && p === "/room_keys/keys") {
            deleted = true;
            await realHttp.request("DELETE", `/room_keys/version/${other.backupVersions.aliceNew}`);
        }
        return realHttp.request(method, p, opts);
    };
    const neu = { userId: newUser.userId, http: sabotage, baseUrl: bed.b.baseUrl };
    const prepared = await prepareKeyHandover({
        old,
        new: neu,
        oldRecoveryKey: other.recoveryKeys.alice,
        newRecoveryKey: other.recoveryKeys.aliceNew,
    });
    const snapshot = await snapshotFromSync(old.http, old.userId);
    const report = await runMigration(
        buildPlan(snapshot, neu.userId, { leaveOldRooms: true }),
        snapshot,
        { old, new: neu },
        { keys: prepared.handover },
    );
    expect(deleted).toBe(true);
    expect((report.keys as { error?: string }).error).toMatch(
        /was deleted or replaced during the migration.*run the migration again/,
    );
    for (const room of DEMO_ENCRYPTED_ROOMS) {
        expect(report.rooms.find((r) => r.roomId === other.rooms[room])).toMatchObject({ left: false });
    }
});

test("an old session with no keys of its own and a backup it cannot open: the keys the backup lists count as found and missing, with what to do", async () => {
    const bed = currentBed();
    const other = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    const oldUser = await loginDevice(bed.a, other.users.alice, "keyless");
    const client = await startClient(oldUser);
    const old = { userId: oldUser.userId, http: new MatrixHttp(bed.a.baseUrl, oldUser.accessToken) };
    const newUser = await loginDevice(bed.b, other.users.aliceNew, "engine");
    const neu = {
        userId: newUser.userId,
        http: new MatrixHttp(bed.b.baseUrl, newUser.accessToken),
        baseUrl: bed.b.baseUrl,
    };
    // No old recovery key: only the (empty) session is a source of keys; the backup's sessions can only be listed.
    const prepared = await prepareKeyHandover({
        old,
        new: neu,
        oldCrypto: client.getCrypto()!,
        newRecoveryKey: other.recoveryKeys.aliceNew,
    });
    expect(prepared.notes.join(" ")).toMatch(/could not be opened/);
    const snapshot = await snapshotFromSync(old.http, old.userId);
    const report = await runMigration(
        buildPlan(snapshot, neu.userId),
        snapshot,
        { old, new: neu },
        { keys: prepared.handover },
    );
    const n = other.aliceMegolmSessions;
    expect(report.keys).toMatchObject({
        sessionsFound: n,
        sessionsUploaded: 0,
        sessionsMissing: n,
        sources: { oldSession: 0, oldBackup: 0, listedInOldBackup: n },
    });
    expect(report.keys).not.toHaveProperty("error");
    expect(report.keys).not.toHaveProperty("note");
    const bookClub = report.rooms.find((r) => r.roomId === other.rooms.bookClub)!;
    expect(bookClub.outcome).toBe("needs-action");
    expect(bookClub.reason).toMatch(/keys are only in the old account's key backup; give the old recovery key/);
});

test("an old account with no keys anywhere: nothing to hand over, said plainly, no error", async () => {
    const bed = currentBed();
    const other = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    const oldUser = await registerUser(bed.a, uniqueLocalpart("nokeys"));
    const client = await startClient(oldUser);
    const old = { userId: oldUser.userId, http: new MatrixHttp(bed.a.baseUrl, oldUser.accessToken) };
    await old.http.request("POST", "/createRoom", {
        body: {
            name: "Quiet",
            preset: "private_chat",
            room_version: "10",
            initial_state: [
                { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
            ],
        },
    });
    const newUser = await loginDevice(bed.b, other.users.aliceNew, "engine");
    const neu = {
        userId: newUser.userId,
        http: new MatrixHttp(bed.b.baseUrl, newUser.accessToken),
        baseUrl: bed.b.baseUrl,
    };
    const prepared = await prepareKeyHandover({
        old,
        new: neu,
        oldCrypto: client.getCrypto()!,
        newRecoveryKey: other.recoveryKeys.aliceNew,
    });
    const snapshot = await snapshotFromSync(old.http, old.userId);
    const report = await runMigration(
        buildPlan(snapshot, neu.userId, { leaveOldRooms: true }),
        snapshot,
        { old, new: neu },
        { keys: prepared.handover },
    );
    expect(report.keys).toMatchObject({
        sessionsFound: 0,
        sessionsUploaded: 0,
        sessionsMissing: 0,
        note: expect.stringMatching(/holds no keys/),
    });
    expect(report.keys).not.toHaveProperty("error");
    // Nothing exists, so nothing can be lost: the gate lets the old account go.
    expect(report.rooms[0]).toMatchObject({ outcome: "migrated", left: true, reasons: [] });
});
