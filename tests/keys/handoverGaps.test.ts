/**
 * Issue 16.5: the key side of the leave gate, found by a review — against the two real Synapse servers, real Rust
 * crypto, the built CLI. Each test names the finding it covers.
 */
import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { buildPlan } from "../../src/engine/plan.ts";
import { reportExitCode, runMigration } from "../../src/engine/migration.ts";
import { encryptForBackup } from "../../src/keys/backupCrypto.ts";
import { prepareKeyHandover } from "../../src/keys/prepare.ts";
import { endRecoverySetup, neverDeletingBackups, setUpNewAccountRecovery } from "../../src/keys/recoverySetup.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { startFaultProxy } from "../bed/faultProxy.ts";
import { startClient, stopAllClients, waitFor, waitForDecryptedMessage, waitForRoom } from "../bed/clients.ts";
import { startApprovalStandIn } from "../bed/approvalStandIn.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { passwordSession } from "../bed/passwordSession.ts";
import { runCli } from "../cli/cliProcess.ts";
import { DEMO_ENCRYPTED_ROOMS, randomDemoAccountSpecs, seedDemoAccounts } from "../fixtures/demoAccounts.ts";
import {
    type Actor,
    actor,
    createRoom,
    getAccountData,
    getState,
    join,
    sendState,
    setAccountData,
} from "../support/scenario.ts";
import { loginDevice } from "./history.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-gaps-"));

afterEach(() => stopAllClients());

interface ReportRoom {
    roomId: string;
    left: boolean;
    outcome: string;
    reasons: Array<{ key: string }>;
}

/** Unpadded base64 (the backup format's) from raw bytes. */
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64").replace(/=+$/, "");

/**
 * What anyone who knows a backup's public key — its homeserver, for one — can write into it: `plaintext` encrypted as
 * the spec says (X25519 with an ephemeral key, HKDF-SHA-256, AES-256-CBC, the MAC over the empty message). Written
 * here with node:crypto, independently of the code under test.
 */
function sealForBackup(plaintext: string, publicKeyBase64: string) {
    const x = Buffer.from(publicKeyBase64, "base64").toString("base64url");
    const backupKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
    const ephemeral = generateKeyPairSync("x25519");
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: backupKey });
    const bits = Buffer.from(hkdfSync("sha256", shared, Buffer.alloc(32), Buffer.alloc(0), 80));
    const cipher = createCipheriv("aes-256-cbc", bits.subarray(0, 32), bits.subarray(64, 80));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const mac = createHmac("sha256", bits.subarray(32, 64)).update(Buffer.alloc(0)).digest().subarray(0, 8);
    const ephemeralX = ephemeral.publicKey.export({ format: "jwk" }).x!;
    return { ephemeral: b64(Buffer.from(ephemeralX, "base64url")), ciphertext: b64(ciphertext), mac: b64(mac) };
}

describe("issue 16.5a: a hand-over that stops part way", () => {
    test("an old-backup listing refused for one room: that room stays (keys not enumerated), every other room's keys still go, exit 3", async () => {
        const bed = currentBed();
        const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
        // The old server refuses the listing of the second room the hand-over asks for (every attempt).
        const asked: string[] = [];
        let refused: string | undefined;
        const proxy = await startFaultProxy(bed.a.baseUrl, (method, p) => {
            const room = /^\/_matrix\/client\/v3\/room_keys\/keys\/(![^/?]+)/.exec(p)?.[1];
            if (method !== "GET" || !room) return undefined;
            if (!asked.includes(room)) asked.push(room);
            if (asked.indexOf(room) === 1) refused = room;
            return room === refused ? { kind: "error", status: 403 } : undefined;
        });
        const reportFile = path.join(workDir, "refused.json");
        const result = await runCli(
            [
                ...["--old-homeserver", proxy.baseUrl, "--old-user", demo.users.alice.userId],
                ...["--new-user", demo.users.aliceNew.userId, "--new-homeserver", bed.b.baseUrl],
                ...["--yes", "--leave-old-rooms", "--report", reportFile],
            ],
            {
                MIGRATE_OLD_PASSWORD: demo.users.alice.password,
                MIGRATE_NEW_PASSWORD: demo.users.aliceNew.password,
                MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
                MIGRATE_NEW_RECOVERY_KEY: demo.recoveryKeys.aliceNew,
            },
        ).finally(() => proxy.close());
        expect(refused).toBeDefined();
        const report = JSON.parse(readFileSync(reportFile, "utf8"));
        expect(report.keys.handOverError).toMatch(/Injected 403/);
        expect(result.stderr).toMatch(/Room keys: .*Injected 403/);
        expect(result.code).toBe(3);

        for (const name of DEMO_ENCRYPTED_ROOMS) {
            const roomId = demo.rooms[name];
            const room = (report.rooms as ReportRoom[]).find((r) => r.roomId === roomId)!;
            const keys = report.keys.perRoom[roomId];
            if (roomId !== refused) {
                // Read before the refusal, or again right before the room's gate (16.5b): its keys were handed over.
                expect({ name, missing: keys.missing, unknown: keys.unknown }).toEqual({
                    name,
                    missing: 0,
                    unknown: undefined,
                });
                expect(keys.found).toBeGreaterThan(0);
                expect(keys.present).toBe(keys.found);
                continue;
            }
            // The refused room: not "0 keys exist", but unknown — and the old account stays.
            expect({ name, left: room.left, outcome: room.outcome, unknown: keys.unknown }).toEqual({
                name,
                left: false,
                outcome: "needs-action",
                unknown: true,
            });
            expect(room.reasons.map((r) => r.key)).toContain("reason|keys-not-enumerated");
        }
        const alice = new MatrixHttp(bed.a.baseUrl, (await loginDevice(bed.a, demo.users.alice, "check")).accessToken);
        const joined = (await alice.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
        expect(joined).toContain(refused);
    });

    test("a malformed key in the old backup (written by whoever knows its public key) is counted as unreadable; every other key moves", async () => {
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
        // One entry in Book club's old backup that decrypts to a "room key" whose session key is not one.
        const info = await old.http.request<{ version: string; auth_data: { public_key: string } }>(
            "GET",
            "/room_keys/version",
        );
        const hostile = JSON.stringify({
            algorithm: "m.megolm.v1.aes-sha2",
            sender_key: "x",
            session_key: "not a session key",
            sender_claimed_keys: {},
            forwarding_curve25519_key_chain: [],
        });
        const bookClub = demo.rooms.bookClub;
        await old.http.request("PUT", `/room_keys/keys/${seg(bookClub)}/hostileSession`, {
            query: { version: info.version },
            body: {
                first_message_index: 0,
                forwarded_count: 0,
                is_verified: true,
                session_data: sealForBackup(hostile, info.auth_data.public_key),
            },
        });

        const prepared = await prepareKeyHandover({
            old,
            new: neu,
            oldRecoveryKey: demo.recoveryKeys.alice,
            newRecoveryKey: demo.recoveryKeys.aliceNew,
        });
        const snapshot = await snapshotFromSync(old.http, old.userId);
        const report = await runMigration(
            buildPlan(snapshot, neu.userId, { leaveOldRooms: true }),
            snapshot,
            { old, new: neu },
            { keys: prepared.handover },
        );
        expect(report.keys!.handOverError).toBeUndefined();
        expect(report.keys!.sessionsUploaded).toBe(demo.aliceMegolmSessions);
        expect(report.keys!.sessionsMissing).toBe(1);
        for (const name of DEMO_ENCRYPTED_ROOMS.filter((n) => n !== "bookClub"))
            expect({ name, missing: report.keys!.perRoom[demo.rooms[name]]!.missing }).toEqual({ name, missing: 0 });
        expect(report.keys!.perRoom[bookClub]).toMatchObject({ missing: 1, malformed: 1 });
        const room = report.rooms.find((r) => r.roomId === bookClub)!;
        expect(room).toMatchObject({ left: false, outcome: "needs-action" });
        expect(room.reasons.map((r) => r.key)).toContain("reason|keys-malformed");
        expect(reportExitCode(report)).toBe(3);
    });
});

/** A random backup public key (unpadded base64), as a device that makes a backup would have. */
const randomBackupKey = () =>
    b64(Buffer.from(generateKeyPairSync("x25519").publicKey.export({ format: "jwk" }).x!, "base64url"));

/** A key backup version made by one of the account's devices. */
function newBackup(device: MatrixHttp): Promise<{ version: string }> {
    return device.request("POST", "/room_keys/version", {
        body: { algorithm: "m.megolm_backup.v1.curve25519-aes-sha2", auth_data: { public_key: randomBackupKey() } },
    });
}

/** A new account with a key backup it made itself (any public key), trusted by the person's consent. */
async function newAccountWithBackup(): Promise<Actor & { baseUrl: string }> {
    const bed = currentBed();
    const neu = await actor(bed.b, "gapsnew");
    await newBackup(neu.http);
    return { ...neu, baseUrl: bed.b.baseUrl };
}

const ENCRYPTED = [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }];

describe("issue 16.5c: the sessions a room's messages use exist, whether or not this session holds them", () => {
    test("a fresh session without a key backup: a room whose history it cannot read stays (keys seen, not held); a room whose keys it holds is left", async () => {
        const bed = currentBed();
        const [alice, bob] = await Promise.all([actor(bed.a, "gapsalice"), actor(bed.a, "gapsbob")]);
        const [aliceC, bobC] = await Promise.all([startClient(alice), startClient(bob)]);
        const talk = async (roomId: string) => {
            await join(bob, roomId);
            await Promise.all([waitForRoom(aliceC, roomId), waitForRoom(bobC, roomId)]);
        };
        // History from before this session: bob's messages, read by alice's earlier device.
        const past = await createRoom(alice, {
            name: "Past",
            preset: "private_chat",
            room_version: "10",
            invite: [bob.userId],
            initial_state: ENCRYPTED,
        });
        await talk(past);
        for (const body of ["first from bob", "second from bob"]) await bobC.sendTextMessage(past, body);
        await waitForDecryptedMessage(aliceC, past, "second from bob");

        // Element signed in afresh, no key backup anywhere: the session holds none of that history.
        const fresh = await startClient(await loginDevice(bed.a, alice, "Fresh Element"));
        const present = await createRoom(alice, {
            name: "Present",
            preset: "private_chat",
            room_version: "10",
            invite: [bob.userId],
            initial_state: ENCRYPTED,
        });
        await talk(present);
        await waitForRoom(fresh, present);
        await fresh.sendTextMessage(present, "sent from the fresh session");
        await waitForDecryptedMessage(bobC, present, "sent from the fresh session");

        const neu = await newAccountWithBackup();
        const prepared = await prepareKeyHandover({
            old: alice,
            new: neu,
            oldCrypto: fresh.getCrypto()!,
            trustUnverifiedNewBackup: true,
        });
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const mark = logMark([bed.a]);
        const report = await runMigration(
            buildPlan(snapshot, neu.userId, { leaveOldRooms: true }),
            snapshot,
            { old: alice, new: neu },
            { keys: prepared.handover },
        );
        // The old account's timeline is read once at the gate: the key check takes its session ids from the history
        // audit's read (Synapse's access log shows each page asked for once, all with the audit's filter; the key
        // check's own read, encrypted events only, is not made).
        const timelineReads = (await requestsSince([bed.a], mark))
            .filter((r) => r.user === alice.userId && r.method === "GET")
            .map((r) => new URL(r.path, "http://x"))
            .filter((u) => u.pathname === `/_matrix/client/v3/rooms/${past}/messages`);
        expect(timelineReads.length).toBeGreaterThan(0);
        expect(timelineReads.map((u) => JSON.parse(u.searchParams.get("filter")!).types)).toEqual(
            timelineReads.map(() => ["m.room.message", "m.room.encrypted", "m.room.history_visibility"]),
        );
        const pages = timelineReads.map((u) => u.searchParams.get("from") ?? "newest");
        expect(new Set(pages).size).toBe(pages.length);
        const pastResult = report.rooms.find((r) => r.roomId === past)!;
        expect(pastResult).toMatchObject({ left: false, outcome: "needs-action" });
        expect(pastResult.reasons.map((r) => r.key)).toContain("reason|keys-seen-not-held");
        // bob's one outbound session: used in the room, held by no source.
        expect(report.keys!.perRoom[past]).toMatchObject({ found: 1, present: 0, missing: 1 });
        const presentResult = report.rooms.find((r) => r.roomId === present)!;
        expect(presentResult).toMatchObject({ left: true, reasons: [] });
        expect(report.keys!.perRoom[present]).toMatchObject({ found: 1, present: 1, missing: 0 });
    });
});

describe("issue 16.5d: a direct chat is left only while the new account's m.direct lists it", () => {
    test("another client of the new account writes m.direct from an older copy right after the merge: the old account stays, and says why", async () => {
        const bed = currentBed();
        const [alice, bob, neu] = await Promise.all([
            actor(bed.a, "dmalice"),
            actor(bed.a, "dmbob"),
            actor(bed.b, "dmnew"),
        ]);
        const dm = await createRoom(bob, {
            preset: "trusted_private_chat",
            is_direct: true,
            room_version: "10",
            invite: [alice.userId],
        });
        await join(alice, dm);
        await setAccountData(alice, "m.direct", { [bob.userId]: [dm] });
        // The new account's other client (Element, say) read m.direct before the migration and writes it back now.
        const otherClient = new MatrixHttp(bed.b.baseUrl, (await loginDevice(bed.b, neu, "Element")).accessToken);
        const staleCopy = { "@someone:elsewhere.example": ["!older:elsewhere.example"] };
        const real = neu.http;
        const racing = Object.create(real) as MatrixHttp;
        let raced = false;
        racing.request = async (method, p, opts) => {
            const answer = await real.request(method, p, opts);
            if (!raced && method === "PUT" && p.endsWith("/account_data/m.direct")) {
                raced = true;
                await otherClient.request("PUT", p, { body: staleCopy });
            }
            return answer as never;
        };
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const report = await runMigration(buildPlan(snapshot, neu.userId, { leaveOldRooms: true }), snapshot, {
            old: alice,
            new: { ...neu, http: racing },
        });
        expect(raced).toBe(true);
        const room = report.rooms.find((r) => r.roomId === dm)!;
        expect(room).toMatchObject({ kind: "dm", left: false, outcome: "needs-action", newAccountJoined: true });
        expect(room.reasons).toContainEqual({ key: "reason|stayed-not-direct", params: { partners: bob.userId } });
        expect((await getState(bob, dm, "m.room.member", alice.userId)).membership).toBe("join");
    });

    test("without a concurrent write, the same direct chat is left, listed under its partner", async () => {
        const bed = currentBed();
        const [alice, bob, neu] = await Promise.all([
            actor(bed.a, "dmalice"),
            actor(bed.a, "dmbob"),
            actor(bed.b, "dmnew"),
        ]);
        const dm = await createRoom(bob, {
            preset: "trusted_private_chat",
            is_direct: true,
            room_version: "10",
            invite: [alice.userId],
        });
        await join(alice, dm);
        await setAccountData(alice, "m.direct", { [bob.userId]: [dm] });
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const report = await runMigration(buildPlan(snapshot, neu.userId, { leaveOldRooms: true }), snapshot, {
            old: alice,
            new: neu,
        });
        expect(report.rooms.find((r) => r.roomId === dm)).toMatchObject({ left: true, outcome: "migrated" });
        expect(await getAccountData(neu, "m.direct")).toEqual({ [bob.userId]: [dm] });
    });
});

describe("issue 16.5e: 'Set up recovery here' never deletes a key backup", () => {
    test("a backup set up on another device while the approval is awaited is kept; the set-up stops with a clear error", async () => {
        const bed = currentBed();
        const neu = await registerUser(bed.b, uniqueLocalpart("approvewait"));
        // A server that wants approval on its page; the person first sets up key storage on their phone, then approves.
        const standIn = await startApprovalStandIn(bed.b.baseUrl, { kind: "page" });
        const phone = new MatrixHttp(bed.b.baseUrl, (await loginDevice(bed.b, neu, "Phone")).accessToken);
        const session = await passwordSession(standIn.url, neu);
        let madeOnPhone: string | undefined;
        let approved: Promise<unknown> = Promise.resolve();
        try {
            const attempt = setUpNewAccountRecovery(session.http, {
                session,
                approval: {
                    askPassword: async () => null,
                    openPage: (url) => {
                        approved = (async () => {
                            madeOnPhone = (await newBackup(phone)).version;
                            await fetch(url);
                        })();
                    },
                },
            });
            await expect(attempt).rejects.toMatchObject({
                code: "backup_exists",
                message: expect.stringMatching(/set up for .* elsewhere .*It was kept/),
            });
            await approved;
        } finally {
            await endRecoverySetup(session);
            await session.signOut();
            await standIn.close();
        }
        expect(standIn.pageVisits()).toBe(1);
        expect(madeOnPhone).toBeDefined();
        expect((await phone.request<{ version: string }>("GET", "/room_keys/version")).version).toBe(madeOnPhone);
    });

    test("the crypto session's requests to delete a backup version never leave the tool", async () => {
        const passed: string[] = [];
        let refused = 0;
        const guarded = neverDeletingBackups(
            async (input, init) => {
                passed.push(`${init?.method ?? "GET"} ${String(input)}`);
                return new Response("{}", { status: 200 });
            },
            () => refused++,
        );
        const answer = await guarded("https://hs.example/_matrix/client/v3/room_keys/version/7", { method: "DELETE" });
        expect(answer.status).toBe(403);
        await guarded("https://hs.example/_matrix/client/v3/room_keys/version", { method: "GET" });
        await guarded("https://hs.example/_matrix/client/v3/room_keys/keys?version=7", { method: "PUT" });
        expect({ refused, passed }).toEqual({
            refused: 1,
            passed: [
                "GET https://hs.example/_matrix/client/v3/room_keys/version",
                "PUT https://hs.example/_matrix/client/v3/room_keys/keys?version=7",
            ],
        });
    });
});

describe("issue 16.5f: --set-up-new-backup hands keys only to the backup it just created", () => {
    test("a server that presents another public key once the backup exists: a clear error, and no key is uploaded to it", async () => {
        const bed = currentBed();
        const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
        const fresh = await registerUser(bed.b, uniqueLocalpart("substituted"));
        // A stand-in for a hostile new homeserver: once a backup is created, it presents its own key in its place.
        const serverKey = randomBackupKey();
        let created = false;
        const uploads: string[] = [];
        const proxy = await startFaultProxy(bed.b.baseUrl, (method, p) => {
            const route = p.split("?")[0]!;
            if (route.endsWith("/room_keys/version") && method === "POST") created = true;
            if (route.includes("/room_keys/keys") && method === "PUT") uploads.push(p);
            if (!created || method !== "GET" || !route.endsWith("/room_keys/version")) return undefined;
            return {
                kind: "rewrite",
                body: (answer) => {
                    const info = answer as { auth_data?: Record<string, unknown> };
                    return { ...info, auth_data: { ...info.auth_data, public_key: serverKey } };
                },
            };
        });
        const reportFile = path.join(workDir, "substituted.json");
        const result = await runCli(
            [
                ...["--old-homeserver", bed.a.baseUrl, "--old-user", demo.users.alice.userId],
                ...["--new-user", fresh.userId, "--new-homeserver", proxy.baseUrl],
                ...["--yes", "--set-up-new-backup", "--leave-old-rooms", "--report", reportFile],
            ],
            {
                MIGRATE_OLD_PASSWORD: demo.users.alice.password,
                MIGRATE_NEW_PASSWORD: fresh.password,
                MIGRATE_OLD_RECOVERY_KEY: demo.recoveryKeys.alice,
            },
        ).finally(() => proxy.close());
        expect(created).toBe(true);
        expect(result.stderr).toMatch(/presents a key backup \(version \S+\) that is not the one just created here/);
        expect(result.stderr).toMatch(/No room was changed and no key was handed over/);
        expect(result.code).toBe(2);
        expect(uploads).toEqual([]);
        // Nothing ran: no report, and the old account is still in every room.
        expect(() => readFileSync(reportFile)).toThrow();
        const alice = new MatrixHttp(bed.a.baseUrl, (await loginDevice(bed.a, demo.users.alice, "check")).accessToken);
        const joined = (await alice.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
        for (const name of DEMO_ENCRYPTED_ROOMS) expect(joined).toContain(demo.rooms[name]);
    });
});

describe("issue 16.5b: right before a room's gate, its keys are read again", () => {
    test("a session created after the inventory is handed over, and a room that turned encryption on mid-run is checked", async () => {
        const bed = currentBed();
        const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
        const aliceDevice = await loginDevice(bed.a, demo.users.alice, "Element");
        const alice: Actor = { ...aliceDevice, http: new MatrixHttp(bed.a.baseUrl, aliceDevice.accessToken) };
        const bobDevice = await loginDevice(bed.a, demo.users.bob, "bob");
        const bob: Actor = { ...bobDevice, http: new MatrixHttp(bed.a.baseUrl, bobDevice.accessToken) };
        // A plain room bob runs, which he encrypts while the migration is under way.
        const later = await createRoom(bob, { name: "Later", preset: "private_chat", invite: [alice.userId] });
        await join(alice, later);
        const aliceC = await startClient(aliceDevice);
        const bookClub = demo.rooms.bookClub;
        await Promise.all([waitForRoom(aliceC, bookClub), waitForRoom(aliceC, later)]);

        const newDevice = await loginDevice(bed.b, demo.users.aliceNew, "engine");
        const neu = {
            userId: newDevice.userId,
            http: new MatrixHttp(bed.b.baseUrl, newDevice.accessToken),
            baseUrl: bed.b.baseUrl,
        };
        const oldBackup = await alice.http.request<{ version: string; auth_data: { public_key: string } }>(
            "GET",
            "/room_keys/version",
        );
        // After the inventory (its keys are being uploaded), alice's Element writes in Book club with a new session,
        // bob turns encryption on in "Later" and alice writes there; Element backs both sessions up to the old backup.
        const midRun: string[] = [];
        const midRunSessions = async () => {
            await aliceC.sendTextMessage(bookClub, "written while the migration waited");
            await sendState(bob, later, "m.room.encryption", "", { algorithm: "m.megolm.v1.aes-sha2" });
            await waitFor(aliceC, () => aliceC.getRoom(later)?.hasEncryptionStateEvent(), "encryption in Later");
            await aliceC.sendTextMessage(later, "now encrypted");
            const keys = (await aliceC.getCrypto()!.exportRoomKeys()).filter(
                (k) => k.room_id === bookClub || k.room_id === later,
            );
            for (const key of keys) {
                midRun.push(`${key.room_id} ${key.session_id}`);
                await alice.http.request("PUT", `/room_keys/keys/${seg(key.room_id)}/${seg(key.session_id)}`, {
                    query: { version: oldBackup.version },
                    body: await encryptForBackup(key as never, oldBackup.auth_data.public_key),
                });
            }
        };
        const real = neu.http;
        const hooked = Object.create(real) as MatrixHttp;
        let inventoryUploaded = false;
        hooked.request = async (method, p, opts) => {
            if (!inventoryUploaded && method === "PUT" && p === "/room_keys/keys") {
                inventoryUploaded = true;
                await midRunSessions();
            }
            return real.request(method, p, opts);
        };

        const prepared = await prepareKeyHandover({
            old: alice,
            new: { ...neu, http: hooked },
            oldRecoveryKey: demo.recoveryKeys.alice,
            newRecoveryKey: demo.recoveryKeys.aliceNew,
        });
        const snapshot = await snapshotFromSync(alice.http, alice.userId);
        const plan = buildPlan(snapshot, neu.userId, { leaveOldRooms: true });
        expect(plan.rooms.find((r) => r.roomId === later)!.encrypted).toBe(false);
        const report = await runMigration(
            plan,
            snapshot,
            { old: alice, new: { ...neu, http: hooked } },
            { keys: prepared.handover },
        );
        expect(midRun.map((k) => k.split(" ")[0]).sort()).toEqual([bookClub, later].sort());
        // Both mid-run sessions are in the new account's backup, and each room's check counts them.
        for (const entry of midRun) {
            const [roomId, sessionId] = entry.split(" ") as [string, string];
            await expect(
                real.request("GET", `/room_keys/keys/${seg(roomId)}/${seg(sessionId)}`, {
                    query: { version: demo.backupVersions.aliceNew },
                }),
            ).resolves.toMatchObject({ session_data: expect.any(Object) });
        }
        expect(report.keys!.perRoom[later]).toMatchObject({ found: 1, present: 1, missing: 0 });
        expect(report.keys!.perRoom[bookClub]).toMatchObject({ missing: 0 });
        expect(report.rooms.find((r) => r.roomId === later)!.steps).toContain("keys 1 of 1");
    });
});
