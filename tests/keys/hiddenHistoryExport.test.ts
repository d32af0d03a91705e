/**
 * Issue 16.4: what stays behind can be kept. Bob's encrypted room with a hostile name is `invited` for its first
 * messages and `shared` afterwards; his plain room is `joined` throughout. Through the CLI with
 * --export-hidden-history and --leave-old-rooms (both recovery keys): before anything changes, each room's messages
 * the new account can't see are written as JSON and HTML (0600, in a 0700 directory), decrypted from the old key
 * backup by real Rust crypto; the JSON holds exactly the messages the new account does not see once it is in the room
 * (compared by event id), with the bodies that were sent; the HTML escapes the room's name; the report names the files.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { Preset } from "matrix-js-sdk";

import type { ExportedMessage } from "../../src/engine/historyExport.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { stopAllClients, waitForDecryptedMessage } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { runCli } from "../cli/cliProcess.ts";
import { ENCRYPTED, say, seedRoomsFromBob, visibility } from "./hiddenRooms.ts";

const HOSTILE_NAME = "<img src=x onerror=alert(1)>";
const workDir = mkdtempSync(path.join(tmpdir(), "migrate-export-"));

afterAll(() => stopAllClients());

/** Event ids of the messages (plain or encrypted) an account sees in a room, oldest first. */
async function messageIds(http: MatrixHttp, roomId: string): Promise<string[]> {
    const ids: string[] = [];
    let from: string | undefined;
    for (;;) {
        const page = await http.request<{ chunk: Array<{ event_id: string; type: string }>; end?: string }>(
            "GET",
            `/rooms/${seg(roomId)}/messages`,
            { query: { dir: "b", limit: 100, from } },
        );
        for (const e of page.chunk)
            if (e.type === "m.room.message" || e.type === "m.room.encrypted") ids.push(e.event_id);
        if (!page.end || !page.chunk.length) break;
        from = page.end;
    }
    return ids.reverse();
}

test("issue 16.4: --export-hidden-history writes, before any leave, exactly the messages the new account can't see, decrypted, as JSON and escaped HTML (0600), and the report names the files", async () => {
    const bed = currentBed();
    const started = Date.now();
    const { alice, aliceNew, recovery, rooms } = await seedRoomsFromBob("hx", async ({ aliceC, bobC, make }) => {
        const made = {
            secret: await make({
                preset: Preset.PrivateChat,
                name: HOSTILE_NAME,
                initial_state: [ENCRYPTED, visibility("invited")],
            }),
            plain: await make({
                preset: Preset.PrivateChat,
                name: "Plain joined-only",
                initial_state: [visibility("joined")],
            }),
        };
        await say(bobC, made.secret, ["secret 1", "<b>secret 2</b>"]);
        await say(aliceC, made.secret, ["secret 3"]);
        await bobC.sendStateEvent(
            made.secret,
            "m.room.history_visibility" as never,
            { history_visibility: "shared" } as never,
        );
        await say(bobC, made.secret, ["visible 4"]);
        await say(bobC, made.plain, ["plain 1"]);
        await say(aliceC, made.plain, ["plain 2"]);
        await waitForDecryptedMessage(aliceC, made.secret, "visible 4");
        return made;
    });
    const aliceHttp = new MatrixHttp(bed.a.baseUrl, alice.accessToken);
    const oldSeesBefore = {
        secret: await messageIds(aliceHttp, rooms.secret),
        plain: await messageIds(aliceHttp, rooms.plain),
    };

    const exportDir = path.join(workDir, "kept");
    const reportFile = path.join(workDir, "report.json");
    const run = await runCli(
        [
            ...["--old-homeserver", bed.a.baseUrl, "--old-user", alice.userId],
            ...["--new-user", aliceNew.userId, "--new-homeserver", bed.b.baseUrl],
            ...["--export-hidden-history", exportDir, "--report", reportFile],
            "--leave-old-rooms",
            "--yes",
        ],
        {
            MIGRATE_OLD_PASSWORD: alice.password,
            MIGRATE_NEW_PASSWORD: aliceNew.password,
            MIGRATE_OLD_RECOVERY_KEY: recovery.alice,
            MIGRATE_NEW_RECOVERY_KEY: recovery.aliceNew,
        },
    );
    expect(run.stderr).toContain("Kept before the migration: 5 messages the new account can't see");
    expect(run.code).toBe(3);
    // Written before anything changed: the export's last line comes before the run's first progress line.
    const lines = run.timeline.map(([, l]) => l);
    const lastExport = lines.findLastIndex((l) => l.includes(" → ") && l.includes("hidden-history-"));
    const firstStep = lines.findIndex((l) => /^\[\d+\/\d+\]/.test(l));
    expect(lastExport).toBeGreaterThan(-1);
    expect(firstStep).toBeGreaterThan(lastExport);

    const report = JSON.parse(readFileSync(reportFile, "utf8")) as {
        historyExports: Array<{
            roomId: string;
            name: string;
            files: string[];
            messages: number;
            undecryptable: number;
        }>;
    };
    expect(report.historyExports.map((e) => [e.roomId, e.name, e.messages, e.undecryptable]).sort()).toEqual(
        [
            [rooms.secret, HOSTILE_NAME, 3, 0],
            [rooms.plain, "Plain joined-only", 2, 0],
        ].sort(),
    );
    expect(statSync(exportDir).mode & 0o777).toBe(0o700);

    // Now that the new account is in both rooms: what it sees, by event id.
    const newHttp = new MatrixHttp(bed.b.baseUrl, aliceNew.accessToken);
    const expectedBodies = { secret: ["secret 1", "<b>secret 2</b>", "secret 3"], plain: ["plain 1", "plain 2"] };
    for (const name of ["secret", "plain"] as const) {
        const entry = report.historyExports.find((e) => e.roomId === rooms[name])!;
        const [jsonFile, htmlFile] = entry.files;
        for (const f of entry.files) expect({ f, mode: statSync(f).mode & 0o777 }).toEqual({ f, mode: 0o600 });
        const doc = JSON.parse(readFileSync(jsonFile!, "utf8")) as {
            rooms: Array<{ roomId: string; messages: ExportedMessage[] }>;
        };
        const exported = doc.rooms[0]!.messages;
        const newSees = new Set(await messageIds(newHttp, rooms[name]));
        const notVisible = oldSeesBefore[name].filter((id) => !newSees.has(id));
        expect({ name, ids: exported.map((m) => m.eventId) }).toEqual({ name, ids: notVisible });
        expect(exported.map((m) => m.content.body)).toEqual(expectedBodies[name]);
        expect(exported.every((m) => m.encrypted === (name === "secret") && !m.undecryptable)).toBe(true);
        const html = readFileSync(htmlFile!, "utf8");
        expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
        expect(html).not.toContain("<b>secret 2</b>");
        if (name === "secret") {
            expect(html).toContain("<h2>&lt;img src=x onerror=alert(1)&gt;</h2>");
            expect(html).not.toContain("<img");
            expect(html).toContain("&lt;b&gt;secret 2&lt;/b&gt;");
        }
    }
    process.stderr.write(`issue 16.4 CLI export test: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 300_000);
