/**
 * Keys through the CLI and the edge cases: recovery keys from the environment, a new account without a backup (set
 * up by the tool), a backup replaced mid-run, and an old session with no keys at all. Real servers, real Rust crypto.
 * (A wrong or malformed recovery key and a backup that is not the account's own are in the bad-input table,
 * tests/badInput.)
 */
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
import {
    DEMO_ENCRYPTED_ROOMS,
    type DemoAccounts,
    randomDemoAccountSpecs,
    seedDemoAccounts,
} from "../fixtures/demoAccounts.ts";
import { OlmMachine } from "@matrix-org/matrix-sdk-crypto-wasm";

import { KEY_FILE_HEADER, KEY_FILE_TRAILER } from "../../src/keys/keyFile.ts";
import { startFaultProxy } from "../bed/faultProxy.ts";
import { recoveryKeySecrets, secretsFound } from "../bed/secretScan.ts";
import { runCli } from "../cli/cliProcess.ts";
import { toolSessions } from "../badInput/fixture.ts";
import { decryptedBodies, loginDevice } from "./history.ts";
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { cliArgs } from "../support/cli.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-keys-"));

let demo: DemoAccounts;

beforeAll(async () => {
    demo = await seedDemoAccounts(currentBed(), () => undefined, randomDemoAccountSpecs());
});

afterAll(() => stopAllClients());

function args(extra: string[] = []): string[] {
    const bed = currentBed();
    return cliArgs(
        {
            oldHomeserver: bed.a.baseUrl,
            oldUser: demo.users.alice.userId,
            newUser: demo.users.aliceNew.userId,
            newHomeserver: bed.b.baseUrl,
        },
        ...extra,
    );
}

function passwords(extra: Record<string, string> = {}): Record<string, string> {
    return {
        MIGRATE_OLD_PASSWORD: demo.users.alice.password,
        MIGRATE_NEW_PASSWORD: demo.users.aliceNew.password,
        ...extra,
    };
}

test("the CLI reads the old backup with its recovery key and writes the keys section of the report; its output and files hold no secret, and its sessions are gone", async () => {
    const bed = currentBed();
    const reportFile = path.join(workDir, "keys.json");
    const keyFile = path.join(workDir, "keys.txt");
    // Both servers through proxies that only note the access tokens the CLI sends, for the scan below.
    const bearers = new Set<string>();
    const noteToken = (_method: string, _path: string, headers: Record<string, unknown>) => {
        const bearer = /^Bearer (.+)$/.exec(String(headers.authorization ?? ""));
        if (bearer) bearers.add(bearer[1]!);
        return undefined;
    };
    const proxies = [await startFaultProxy(bed.a.baseUrl, noteToken), await startFaultProxy(bed.b.baseUrl, noteToken)];
    const viaProxies = (list: string[]) =>
        list.map((a) => (a === bed.a.baseUrl ? proxies[0]!.baseUrl : a === bed.b.baseUrl ? proxies[1]!.baseUrl : a));
    const passphrase = "key file passphrase, long enough";
    const result = await runCli(
        viaProxies(args(["--yes", "--report", reportFile, "--key-file", keyFile])),
        passwords({
            MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
            MIGRATE_NEW_RECOVERY_KEY: demo.recoveryKeys.aliceNew,
            MIGRATE_KEY_FILE_PASSPHRASE: passphrase,
        }),
    ).finally(() => Promise.all(proxies.map((p) => p.close())));
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

    // Security scan. The key file is Element's encrypted format; decrypted with its passphrase it gives the room keys.
    const keyFileText = readFileSync(keyFile, "utf8");
    expect(keyFileText.startsWith(`${KEY_FILE_HEADER}\n`) && keyFileText.trimEnd().endsWith(KEY_FILE_TRAILER)).toBe(
        true,
    );
    const roomKeys = (
        JSON.parse(OlmMachine.decryptExportedRoomKeys(keyFileText, passphrase)) as Array<{ session_key: string }>
    ).map((k) => k.session_key);
    expect(roomKeys.length).toBe(demo.aliceMegolmSessions);
    // Two sessions of the CLI's own (old and new account), each used with its access token.
    expect(bearers.size).toBeGreaterThanOrEqual(2);
    const secrets = {
        "the old account's password": demo.users.alice.password,
        "the new account's password": demo.users.aliceNew.password,
        ...recoveryKeySecrets("the old recovery key", demo.recoveryKeys.alice),
        ...recoveryKeySecrets("the new recovery key", demo.recoveryKeys.aliceNew),
        "the key file's passphrase": passphrase,
        ...Object.fromEntries([...bearers].map((token, i) => [`access token ${i + 1}`, token])),
        ...Object.fromEntries(roomKeys.map((key, i) => [`room key ${i + 1}`, key])),
    };
    const places = {
        "standard output": result.stdout,
        "standard error": result.stderr,
        "the report": readFileSync(reportFile, "utf8"),
        "the key file": keyFileText,
    };
    expect(secretsFound(places, secrets)).toEqual([]);

    // The sessions it signed in with the passwords are signed out: gone from both accounts' device lists.
    const admin = async (hs: typeof bed.a) => {
        const user = await registerUser(hs, uniqueLocalpart("admin"), { admin: true });
        return { ...user, http: new MatrixHttp(hs.baseUrl, user.accessToken) };
    };
    expect([
        ...(await toolSessions(await admin(bed.a), demo.users.alice.userId)),
        ...(await toolSessions(await admin(bed.b), demo.users.aliceNew.userId)),
    ]).toEqual([]);
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
