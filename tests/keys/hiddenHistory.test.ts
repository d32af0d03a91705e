/**
 * Issue 16: nothing readable is lost. Rooms other people made, whose history visibility hides the past from a
 * newcomer — an encrypted direct chat (room v11) `invited` from its creation, a plain group `joined`, a room `invited`
 * for its first messages and `shared` after — and an encrypted room with `shared` history. Through the CLI with
 * --leave-old-rooms and both recovery keys (so every key can move): the plan and the report name what stays behind,
 * the old account stays where something would be lost (exit 3), the `shared` room is still left, and the audit's
 * figures equal what a fresh device of the new account fetches and decrypts (real Rust crypto).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { runCli } from "../cli/cliProcess.ts";
import { decryptedBodies, freshDeviceFromRecoveryKey } from "./history.ts";
import { type Rooms, seedHiddenHistoryRooms } from "./hiddenRooms.ts";
import { cliArgs } from "../support/cli.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-hidden-"));

afterAll(() => stopAllClients());

interface ReportRoom {
    roomId: string;
    outcome: string;
    left: boolean;
    reason: string;
    history?: {
        oldSees: number;
        newSees: number;
        newCanDecrypt: number;
        notVisible: number;
        noKey: number;
        method: string;
    };
}

test("issue 16: rooms that hide their past from newcomers keep the old account, named with their counts (exit 3); a `shared` room is left, and the audit equals what a fresh new-account device reads", async () => {
    const bed = currentBed();
    const started = Date.now();
    const { alice, aliceNew, recovery, rooms } = await seedHiddenHistoryRooms();
    const args = cliArgs(
        { oldHomeserver: bed.a.baseUrl, oldUser: alice.userId, newUser: aliceNew.userId, newHomeserver: bed.b.baseUrl },
        ...["--leave-old-rooms", "--yes"],
    );
    const env = {
        MIGRATE_OLD_PASSWORD: alice.password,
        MIGRATE_NEW_PASSWORD: aliceNew.password,
        MIGRATE_OLD_RECOVERY_KEY: recovery.alice,
        MIGRATE_NEW_RECOVERY_KEY: recovery.aliceNew,
    };

    // The dry run says it before anything changes, in words, with the counts.
    const dryReport = path.join(workDir, "dry.json");
    const dry = await runCli([...args, "--dry-run", "--report", dryReport], env);
    expect(dry.stderr).toContain(
        "The new account won't see the 5 messages sent here before it was invited: this room shows members only what was sent after they were invited.",
    );
    expect(dry.stderr).toContain(
        "Joined-only group: The new account won't see the 4 messages sent here before it joined: this room shows members only what was sent after they joined.",
    );
    expect(dry.stderr).toContain(
        "Invited, then shared: The new account won't see the 2 messages sent here while this room showed members only what was sent after they were invited or joined.",
    );
    expect(dry.stderr).not.toMatch(/Shared encrypted room: The new account won't see/);
    expect(dry.code).toBe(3);
    const dryRooms = JSON.parse(readFileSync(dryReport, "utf8")).rooms as ReportRoom[];
    const dryOutcome = (id: string) => dryRooms.find((r) => r.roomId === id)!.outcome;
    expect([rooms.dm, rooms.group, rooms.mixed, rooms.shared].map(dryOutcome)).toEqual([
        "needs-action",
        "needs-action",
        "needs-action",
        "migrated",
    ]);

    // The run.
    const reportFile = path.join(workDir, "run.json");
    const run = await runCli([...args, "--report", reportFile], env);
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as { rooms: ReportRoom[] };
    const byId = (id: string) => report.rooms.find((r) => r.roomId === id)!;
    const aliceHttp = new MatrixHttp(bed.a.baseUrl, alice.accessToken);
    const joined = (await aliceHttp.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
    const expected = {
        dm: { oldSees: 5, newSees: 0, notVisible: 5, noKey: 0 },
        group: { oldSees: 4, newSees: 0, notVisible: 4, noKey: 0 },
        mixed: { oldSees: 4, newSees: 2, notVisible: 2, noKey: 0 },
    };
    for (const [name, counts] of Object.entries(expected) as Array<[keyof Rooms, (typeof expected)["dm"]]>) {
        const room = byId(rooms[name]);
        expect({ name, outcome: room.outcome, left: room.left, stillJoined: joined.includes(rooms[name]) }).toEqual({
            name,
            outcome: "needs-action",
            left: false,
            stillJoined: true,
        });
        expect(room.history).toMatchObject({ ...counts, method: "exact" });
        expect(room.reason).toContain(
            `the new account can't see ${counts.notVisible} of the ${counts.oldSees} messages`,
        );
        expect(room.reason).toContain(`--accept-losses ${rooms[name]}`);
    }
    const shared = byId(rooms.shared);
    expect(shared).toMatchObject({
        left: true,
        history: { oldSees: 3, newSees: 3, newCanDecrypt: 3, notVisible: 0, noKey: 0, method: "exact" },
    });
    expect(joined).not.toContain(rooms.shared);
    expect(run.stderr).toMatch(
        /History: the old account sees 16 messages in 4 rooms; the new account sees 5 and can decrypt 5; 11 not visible, 0 without key\./,
    );
    expect(run.code).toBe(3);

    // The proof, as the new account with real crypto: a fresh device restores the backup, fetches and decrypts.
    const fresh = await freshDeviceFromRecoveryKey(bed.b, aliceNew, recovery.aliceNew);
    for (const name of ["dm", "group", "mixed", "shared"] as const) {
        const { bodies, failures } = await decryptedBodies(fresh.client, fresh.device, rooms[name]);
        const audit = byId(rooms[name]).history!;
        expect({ name, sees: bodies.length + failures, decrypts: bodies.length, noKey: failures }).toEqual({
            name,
            sees: audit.newSees,
            decrypts: audit.newCanDecrypt,
            noKey: audit.noKey,
        });
        if (name === "shared") expect(bodies).toEqual(["shared 1", "shared 2", "shared 3"]);
        if (name === "mixed") expect(bodies).toEqual(["mixed 3", "mixed 4"]);
    }

    // Accepting one room's named loss lets the old account leave it, and the report says so.
    const acceptedFile = path.join(workDir, "accepted.json");
    const accepted = await runCli([...args, "--report", acceptedFile, "--accept-losses", rooms.group], env);
    const acceptedRooms = JSON.parse(readFileSync(acceptedFile, "utf8")).rooms as ReportRoom[];
    const group = acceptedRooms.find((r) => r.roomId === rooms.group)!;
    expect(group.left).toBe(true);
    expect(group.reason).toContain("You accepted that 4 messages of");
    expect(acceptedRooms.find((r) => r.roomId === rooms.dm)!.left).toBe(false);
    expect(accepted.code).toBe(3);
    process.stderr.write(`issue 16 CLI test: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 300_000);
