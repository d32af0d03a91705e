/**
 * A migration under way says so in the journal (issue 15.7): a heartbeat every 30 s naming the old account's device it
 * runs on, removed when the run ends. Real Synapse servers; the engine's journal writer, and the built CLI as its own
 * process — which also refuses to start a migration whose journal beats from another device (an Element page).
 */
import { JournalWriter } from "../../src/engine/journalStore.ts";
import { JOURNAL_EVENT_TYPE, journalFor, nowSeconds, runningElsewhere } from "../../src/engine/journal.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import { seg } from "../../src/sessions/matrixHttp.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { runCli } from "../cli/cliProcess.ts";
import { type Actor, actor, createRoom, getAccountData } from "../support/scenario.ts";
import { cliArgs } from "../support/cli.ts";

const journalOf = async (old: Actor, newUserId: string) =>
    journalFor(await getAccountData(old, JOURNAL_EVENT_TYPE), newUserId);

test("the journal writer beats while a run is under way, naming its device, and the beat goes when it stops", async () => {
    const old = await actor(currentBed().a, "beating");
    const newUserId = "@somebody:new.example";
    const writer = new JournalWriter({ userId: old.userId, http: old.http }, newUserId, new Scheduler(), false);
    await writer.load();
    writer.startHeartbeat("RUNNINGDEVICE", undefined, 400);
    await new Promise((r) => setTimeout(r, 1_600));
    const first = await journalOf(old, newUserId);
    expect(first.heartbeatDevice).toBe("RUNNINGDEVICE");
    expect(Math.abs(first.heartbeatAt! - nowSeconds())).toBeLessThanOrEqual(2);
    // Seen from another device: running elsewhere; from the running one: not.
    expect(runningElsewhere(first, "ANOTHERDEVICE")).toEqual({
        deviceId: "RUNNINGDEVICE",
        heartbeatAt: first.heartbeatAt,
    });
    expect(runningElsewhere(first, "RUNNINGDEVICE")).toBeUndefined();
    // It keeps beating.
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await journalOf(old, newUserId)).heartbeatAt).toBeGreaterThan(first.heartbeatAt!);
    writer.stopHeartbeat();
    await writer.flush();
    const stopped = await journalOf(old, newUserId);
    expect(stopped).not.toHaveProperty("heartbeatAt");
    expect(runningElsewhere(stopped, "ANOTHERDEVICE")).toBeUndefined();
});

test("a dry run writes no heartbeat", async () => {
    const old = await actor(currentBed().a, "dry-beat");
    const writer = new JournalWriter({ userId: old.userId, http: old.http }, "@x:new.example", new Scheduler(), true);
    await writer.load();
    writer.startHeartbeat("DEVICE", undefined, 100);
    await new Promise((r) => setTimeout(r, 1_300));
    expect(await getAccountData(old, JOURNAL_EVENT_TYPE)).toBeUndefined();
});

describe("the CLI", () => {
    const bed = () => currentBed();
    const args = (neu: Actor) =>
        cliArgs({ oldHomeserver: bed().a.baseUrl, newUser: neu.userId, newHomeserver: bed().b.baseUrl }, "--yes");

    test("a journal beating from another device (an Element page running it): refused, nothing changed", async () => {
        const old = await actor(bed().a, "elsewhere");
        const neu = await actor(bed().b, "elsewhere-new");
        const roomId = await createRoom(old, { name: "Room", preset: "public_chat" });
        const journal = {
            startedAt: nowSeconds() - 600,
            updatedAt: nowSeconds() - 5,
            rooms: {},
            account: {},
            choices: { rooms: [roomId], options: {}, settings: [] },
            heartbeatAt: nowSeconds() - 5,
            heartbeatDevice: "ELEMENTWEB",
        };
        const doc = { version: 1, migrations: { [neu.userId]: journal } };
        await old.http.request("PUT", `/user/${seg(old.userId)}/account_data/${seg(JOURNAL_EVENT_TYPE)}`, {
            body: doc,
        });
        const run = await runCli(args(neu), {
            MIGRATE_OLD_ACCESS_TOKEN: old.accessToken,
            MIGRATE_NEW_ACCESS_TOKEN: neu.accessToken,
        });
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/is running on another device \(ELEMENTWEB, last seen \d+ s ago\)/);
        expect(run.stderr).toMatch(/Nothing was changed/);
        expect(await getAccountData(old, JOURNAL_EVENT_TYPE)).toEqual(doc);
        const members = await old.http.request<{ joined: Record<string, unknown> }>(
            "GET",
            `/rooms/${seg(roomId)}/joined_members`,
        );
        expect(Object.keys(members.joined)).toEqual([old.userId]);
    });

    test("a run beats under its own device while it runs; finished, the beat is gone", async () => {
        const old = await actor(bed().a, "cli-beat");
        const neu = await actor(bed().b, "cli-beat-new");
        await createRoom(old, { name: "Room", preset: "public_chat" });
        const beats = new Set<string>();
        let watching = true;
        const watch = (async () => {
            while (watching) {
                const j = await journalOf(old, neu.userId).catch(() => undefined);
                if (j?.heartbeatDevice) beats.add(j.heartbeatDevice);
                await new Promise((r) => setTimeout(r, 50));
            }
        })();
        const run = await runCli(args(neu), {
            MIGRATE_OLD_ACCESS_TOKEN: old.accessToken,
            MIGRATE_NEW_ACCESS_TOKEN: neu.accessToken,
        });
        watching = false;
        await watch;
        expect(run.stderr).not.toMatch(/Migration stopped/);
        expect([...beats]).toEqual([old.deviceId]);
        const done = await journalOf(old, neu.userId);
        expect(done.finishedAt).toBeDefined();
        expect(done).not.toHaveProperty("heartbeatAt");
        expect(done).not.toHaveProperty("heartbeatDevice");
    });
});
