/**
 * Keys and the leave gate, issue 7 (security review), against the two real Synapse servers with real Rust crypto:
 * an encrypted room is left only when every key that exists — the old session's and every session the old backup
 * lists, readable or not — is in the new account's backup as read back at that moment; a journal entry from an
 * earlier run never stands in for that read; a backup this tool cannot use disables only the hand-over; recovery
 * set-up never replaces an existing cross-signing identity; the "moved" note never goes as plain text into an
 * encrypted direct chat.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import type { IEvent } from "matrix-js-sdk";

import { buildPlan } from "../../src/engine/plan.ts";
import { runMigration } from "../../src/engine/migration.ts";
import { JOURNAL_EVENT_TYPE } from "../../src/engine/journal.ts";
import { keySituation, prepareKeyHandover } from "../../src/keys/prepare.ts";
import { setUpNewAccountRecovery } from "../../src/keys/recoverySetup.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { startClient, stopAllClients, waitForDecryptedMessage, waitForRoom } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { passwordSession } from "../bed/passwordSession.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";
import { type Actor, actor, createRoom, getState, join, setAccountData } from "../support/scenario.ts";
import { DEMO_ENCRYPTED_ROOMS, randomDemoAccountSpecs, seedDemoAccounts } from "../fixtures/demoAccounts.ts";
import { loginDevice } from "./history.ts";

const CLI = path.join(PROJECT_ROOT, "dist", "cli", "matrix-account-migrate.js");
const workDir = mkdtempSync(path.join(tmpdir(), "migrate-gate-"));

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

afterEach(() => stopAllClients());

const asActor = async (
    hs: ReturnType<typeof currentBed>["a"],
    user: { userId: string; password: string },
): Promise<Actor> => {
    const device = await loginDevice(hs, user, "test");
    return { ...device, http: new MatrixHttp(hs.baseUrl, device.accessToken) };
};

test("issue 7.1, end to end through the CLI: keys only in the old backup, no old recovery key, --leave-old-rooms → encrypted rooms kept, plain rooms left, missing keys named, exit 3", async () => {
    const bed = currentBed();
    const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    // A plain room someone else runs, where the old account is an ordinary member: nothing stops it from leaving.
    const [alice, bob] = await Promise.all([asActor(bed.a, demo.users.alice), asActor(bed.a, demo.users.bob)]);
    const lobby = await createRoom(bob, { name: "Lobby", preset: "public_chat", room_version: "10" });
    await join(alice, lobby);

    const reportFile = path.join(workDir, "gate.json");
    const result = await runCli(
        [
            ...[
                "--old-homeserver",
                bed.a.baseUrl,
                "--old-user",
                demo.users.alice.userId,
                "--new-user",
                demo.users.aliceNew.userId,
                "--new-homeserver",
                bed.b.baseUrl,
            ],
            ...["--yes", "--leave-old-rooms", "--report", reportFile],
        ],
        {
            MIGRATE_OLD_PASSWORD: demo.users.alice.password,
            MIGRATE_NEW_PASSWORD: demo.users.aliceNew.password,
            MIGRATE_NEW_RECOVERY_KEY: demo.recoveryKeys.aliceNew,
        },
    );
    const n = demo.aliceMegolmSessions;
    expect(n).toBeGreaterThan(0);
    expect(result.stderr).toContain(`Room keys: ${n} found, 0 handed over, ${n} missing.`);
    expect(result.code).toBe(3);

    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    const joined = (await alice.http.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
    for (const name of DEMO_ENCRYPTED_ROOMS) {
        const roomId = demo.rooms[name];
        const room = report.rooms.find((r: { roomId: string }) => r.roomId === roomId);
        const keys = report.keys.perRoom[roomId];
        expect({ name, left: room.left, outcome: room.outcome, stillJoined: joined.includes(roomId) }).toEqual({
            name,
            left: false,
            outcome: "needs-action",
            stillJoined: true,
        });
        expect(keys).toMatchObject({ handedOver: 0, present: 0, missing: keys.found, listedInOldBackup: keys.found });
        expect(room.reason).toMatch(
            new RegExp(
                `^The old account stays in .* ${keys.found} of ${keys.found} keys are only in the old account's key backup; give the old recovery key`,
            ),
        );
    }
    const lobbyResult = report.rooms.find((r: { roomId: string }) => r.roomId === lobby);
    expect(lobbyResult).toMatchObject({ left: true });
    expect((await getState(bob, lobby, "m.room.member", alice.userId)).membership).toBe("leave");
});

test("issue 7.2: a journal entry from an earlier run does not open the gate when this run's hand-over could not happen", async () => {
    const bed = currentBed();
    const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    const oldUser = await loginDevice(bed.a, demo.users.alice, "engine");
    const newUser = await loginDevice(bed.b, demo.users.aliceNew, "engine");
    const old = { userId: oldUser.userId, http: new MatrixHttp(bed.a.baseUrl, oldUser.accessToken) };
    const neu = {
        userId: newUser.userId,
        http: new MatrixHttp(bed.b.baseUrl, newUser.accessToken),
        baseUrl: bed.b.baseUrl,
    };
    // An earlier run recorded every encrypted room as confirmed, at level 100, with its keys handed over to the
    // current backup version — but that backup holds nothing.
    const rooms = Object.fromEntries(
        DEMO_ENCRYPTED_ROOMS.map((name) => [demo.rooms[name], { c: 100, keys: 7, kv: demo.backupVersions.aliceNew }]),
    );
    await setAccountData({ ...oldUser, http: old.http }, JOURNAL_EVENT_TYPE, {
        version: 1,
        migrations: { [neu.userId]: { startedAt: 1, updatedAt: 1, rooms, account: {} } },
    });
    // This run: the old backup opens, but the new backup is neither verified nor consented to, so nothing moves.
    const prepared = await prepareKeyHandover({ old, new: neu, oldRecoveryKey: demo.recoveryKeys.alice });
    expect("unavailable" in prepared.target).toBe(true);
    const snapshot = await snapshotFromSync(old.http, old.userId);
    const report = await runMigration(
        buildPlan(snapshot, neu.userId, { leaveOldRooms: true }),
        snapshot,
        { old, new: neu },
        { keys: prepared.handover },
    );
    for (const name of DEMO_ENCRYPTED_ROOMS) {
        const room = report.rooms.find((r) => r.roomId === demo.rooms[name])!;
        expect({ name, left: room.left }).toEqual({ name, left: false });
        expect(room.reasons.map((r) => r.key)).toContain("reason|keys-backup-unverified");
    }
    expect(report.keys!.sessionsMissing).toBe(demo.aliceMegolmSessions);
});

test("issue 7.15: an old backup of an algorithm this tool cannot read disables only the hand-over; the plan and the run go on", async () => {
    const bed = currentBed();
    const [old, neu] = await Promise.all([actor(bed.a, "futurebackup"), actor(bed.b, "futurebackupnew")]);
    await old.http.request("POST", "/room_keys/version", {
        body: { algorithm: "org.example.future_backup.v9", auth_data: { some: "thing" } },
    });
    await createRoom(old, { name: "Plain room", preset: "private_chat", room_version: "10" });

    const situation = await keySituation(old, neu);
    expect(situation).toMatchObject({ oldBackup: true, oldBackupKeyInSession: false, newBackup: false });
    expect(situation.oldBackupProblem).toMatch(/org\.example\.future_backup\.v9, which this tool does not support/);
    const prepared = await prepareKeyHandover({ old, new: { ...neu, baseUrl: bed.b.baseUrl } });
    expect(prepared.notes.join(" ")).toMatch(/cannot be read by this tool/);

    const result = await runCli(
        ["--old-homeserver", bed.a.baseUrl, "--new-user", neu.userId, "--new-homeserver", bed.b.baseUrl, "--dry-run"],
        { MIGRATE_OLD_ACCESS_TOKEN: old.accessToken, MIGRATE_NEW_ACCESS_TOKEN: neu.accessToken },
    );
    expect(result.stderr).toMatch(/Plan: .*\n\s+1 rooms: 1 to migrate/);
    expect(result.code).toBe(0);
});

test("issue 7.5: setting up recovery never replaces an existing cross-signing identity", async () => {
    const bed = currentBed();
    const user = await actor(bed.b, "xsigned");
    // Cross-signing from one of the account's devices, without secret storage or a key backup.
    const client = await startClient(user);
    await client.getCrypto()!.bootstrapCrossSigning({
        authUploadDeviceSigningKeys: async (makeRequest) => {
            await makeRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: user.userId },
                password: user.password,
            });
        },
    });
    const masterKey = async () =>
        (
            await user.http.request<{ master_keys?: Record<string, unknown> }>("POST", "/keys/query", {
                body: { device_keys: { [user.userId]: [] } },
            })
        ).master_keys?.[user.userId];
    const before = await masterKey();
    expect(before).toBeDefined();

    const session = await passwordSession(bed.b.baseUrl, user);
    try {
        const attempt = setUpNewAccountRecovery(session.http, { session });
        await expect(attempt).rejects.toMatchObject({ code: "cross_signing_exists" });
        await expect(attempt).rejects.toThrow(/already has a cross-signing identity.*Nothing was changed/);
    } finally {
        await session.signOut();
    }
    expect(await masterKey()).toEqual(before);
    expect(await user.http.request("GET", "/room_keys/version").catch((e) => e.httpStatus)).toBe(404);
});

describe("issue 7.10: the 'moved' note in encrypted direct chats", () => {
    async function encryptedDm() {
        const bed = currentBed();
        const [alice, bob, neu] = await Promise.all([
            actor(bed.a, "notealice"),
            actor(bed.a, "notebob"),
            actor(bed.b, "notenew"),
        ]);
        const [aliceC, bobC] = await Promise.all([startClient(alice), startClient(bob)]);
        const dm = await createRoom(alice, {
            preset: "trusted_private_chat",
            is_direct: true,
            room_version: "10",
            invite: [bob.userId],
            initial_state: [
                { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
            ],
        });
        await join(bob, dm);
        await setAccountData(alice, "m.direct", { [bob.userId]: [dm] });
        await Promise.all([waitForRoom(aliceC, dm), waitForRoom(bobC, dm)]);
        return { alice, bob, neu, aliceC, bobC, dm };
    }

    /** What alice posted in the room, as the server stores it. */
    async function postedByAlice(bob: Actor, dm: string, alice: Actor): Promise<IEvent[]> {
        const page = await bob.http.request<{ chunk: IEvent[] }>("GET", `/rooms/${seg(dm)}/messages`, {
            query: { dir: "b", limit: 50 },
        });
        return page.chunk.filter(
            (e) => e.sender === alice.userId && (e.type === "m.room.message" || e.type === "m.room.encrypted"),
        );
    }

    test("sent through a session that encrypts, it arrives encrypted and the partner reads it", async () => {
        const { alice, bob, neu, aliceC, bobC, dm } = await encryptedDm();
        const old = {
            userId: alice.userId,
            http: alice.http,
            sendMessage: async (roomId: string, content: Record<string, unknown>, txnId: string) => {
                await aliceC.sendMessage(roomId, content as never, txnId);
            },
        };
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const report = await runMigration(buildPlan(snapshot, neu.userId, { movedNotice: true }), snapshot, {
            old,
            new: neu,
        });
        expect(report.rooms.find((r) => r.roomId === dm)!.steps).toContain("dm-note");
        await waitForDecryptedMessage(
            bobC,
            dm,
            `I have moved to a new account: ${neu.userId}. Please reach me there from now on.`,
        );
        const posted = await postedByAlice(bob, dm, alice);
        expect(posted.map((e) => e.type)).toEqual(["m.room.encrypted"]);
    });

    test("without such a session it is not sent at all, and the report says so", async () => {
        const { alice, bob, neu, dm } = await encryptedDm();
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const report = await runMigration(buildPlan(snapshot, neu.userId, { movedNotice: true }), snapshot, {
            old: alice,
            new: neu,
        });
        const room = report.rooms.find((r) => r.roomId === dm)!;
        expect(room.steps).not.toContain("dm-note");
        expect(room.reasons.map((r) => r.key)).toContain("reason|note-not-encrypted");
        expect(await postedByAlice(bob, dm, alice)).toEqual([]);
    });
});
