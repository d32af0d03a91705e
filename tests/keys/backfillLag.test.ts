/**
 * Issue 16: the new account's server has just joined a `shared` room of a few hundred messages, sent by several
 * people at once (so the room's graph forks, as real rooms' do). Right after the join, Synapse has backfilled only
 * part of it and its /messages answers "nothing older" while whole branches are still missing (measured: 100 of 300
 * on the first read, still 21 after asking again from where it stopped). The audit reads the new account's view
 * again, bounded, and measures: the old account leaves (nothing is lost), and a fresh device of the new account —
 * a new login, paging as a client does — reads every message the old account saw.
 */
import { performance } from "node:perf_hooks";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { runCli } from "../cli/cliProcess.ts";

const MESSAGES = 300;
const workDir = mkdtempSync(path.join(tmpdir(), "migrate-backfill-"));

/** Every message body a user sees in a room, paging back from the newest until the server says there is no more. */
async function allBodies(http: MatrixHttp, roomId: string): Promise<string[]> {
    const bodies: string[] = [];
    let from: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
        const page = await http.request<{ chunk: Array<{ type: string; content: { body?: string } }>; end?: string }>(
            "GET",
            `/rooms/${seg(roomId)}/messages`,
            { query: { dir: "b", limit: 100, from } },
        );
        for (const e of page.chunk) if (e.type === "m.room.message" && e.content.body) bodies.push(e.content.body);
        if (!page.end || page.end === from) break;
        from = page.end;
    }
    return bodies;
}

test("issue 16: a `shared` room of 300 messages that the new server is still backfilling is left once the new account sees all of it; a fresh new-account device reads every message", async () => {
    const bed = currentBed();
    const started = performance.now();
    const [alice, bob, carol, aliceNew] = await Promise.all([
        registerUser(bed.a, uniqueLocalpart("bf-alice")),
        registerUser(bed.a, uniqueLocalpart("bf-bob")),
        registerUser(bed.a, uniqueLocalpart("bf-carol")),
        registerUser(bed.b, uniqueLocalpart("bf-alice-new")),
    ]);
    const [a, b, c] = [alice, bob, carol].map((u) => new MatrixHttp(bed.a.baseUrl, u.accessToken));
    // Bob's room: `shared` history (the private_chat preset's default), alice and carol invited.
    const { room_id: roomId } = await b!.request<{ room_id: string }>("POST", "/createRoom", {
        body: { preset: "private_chat", name: "Busy shared room", invite: [alice.userId, carol.userId] },
    });
    await Promise.all([a, c].map((h) => h!.request("POST", `/join/${seg(roomId)}`, { body: {} })));
    // Bob and carol send at once, eight messages in flight: the room's graph forks.
    let next = 0;
    await Promise.all(
        Array.from({ length: 8 }, async (_, lane) => {
            const sender = lane % 2 ? c! : b!;
            while (next < MESSAGES) {
                const i = next++;
                await sender.request("PUT", `/rooms/${seg(roomId)}/send/m.room.message/bf${i}`, {
                    body: { msgtype: "m.text", body: `busy ${i}` },
                });
            }
        }),
    );

    const reportFile = path.join(workDir, "run.json");
    const run = await runCli(
        [
            ...["--old-homeserver", bed.a.baseUrl, "--new-user", aliceNew.userId, "--new-homeserver", bed.b.baseUrl],
            ...["--leave-old-rooms", "--yes", "--report", reportFile],
        ],
        { MIGRATE_OLD_ACCESS_TOKEN: alice.accessToken, MIGRATE_NEW_ACCESS_TOKEN: aliceNew.accessToken },
    );
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as {
        rooms: Array<{
            roomId: string;
            outcome: string;
            left: boolean;
            reason: string;
            history?: Record<string, unknown>;
        }>;
    };
    const room = report.rooms.find((r) => r.roomId === roomId)!;
    expect({ outcome: room.outcome, left: room.left, reason: room.reason, code: run.code }).toEqual({
        outcome: "migrated",
        left: true,
        reason: expect.any(String),
        code: 0,
    });
    expect(room.history).toMatchObject({ oldSees: MESSAGES, newSees: MESSAGES, notVisible: 0, method: "exact" });
    const tries = room.history!.tries as number;
    expect(tries).toBeGreaterThanOrEqual(0);

    // A fresh device of the new account (a new login) reads every message the old account saw.
    const login = await new MatrixHttp(bed.b.baseUrl).request<{ access_token: string }>("POST", "/login", {
        body: {
            type: "m.login.password",
            identifier: { type: "m.id.user", user: aliceNew.userId },
            password: aliceNew.password,
        },
    });
    const fresh = await allBodies(new MatrixHttp(bed.b.baseUrl, login.access_token), roomId);
    const expected = Array.from({ length: MESSAGES }, (_, i) => `busy ${i}`).sort();
    expect([...new Set(fresh)].sort()).toEqual(expected);
    process.stderr.write(
        `backfill-lag test: ${((performance.now() - started) / 1000).toFixed(1)} s, the audit re-read the new view ${tries} time(s)\n`,
    );
}, 300_000);
