/**
 * What a run stopped midway (killed, crashed, a tab closed) must not lose — found by the interruption trials
 * (tests/proof): a resumed run plans only the rooms the old account is still in, so whatever a room carries beyond
 * itself must be on the new account before the old account leaves it; and a resumed run signs in anew, so the
 * "moved" note is looked for in the room rather than remembered; and the "moved" mark a stopped run put on the old
 * display name is not handed on to the new account. Against the two real servers; where a server must refuse
 * something, a fault proxy in front of it does (tests/bed/faultProxy.ts).
 */
import { runMigration } from "../../src/engine/migration.ts";
import { Scheduler } from "../../src/engine/scheduler.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { startFaultProxy } from "../bed/faultProxy.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Actor, actor, createRoom, getAccountData, getState, join, setAccountData } from "../support/scenario.ts";
import { planFromSync, resultIn } from "../support/runs.ts";

/** A direct chat bob started with alice (room version 10: she is no creator, so she may leave it). */
async function plainDm(alice: Actor, bob: Actor): Promise<string> {
    const roomId = await createRoom(bob, {
        preset: "private_chat",
        is_direct: true,
        invite: [alice.userId],
        room_version: "10",
    });
    await join(alice, roomId);
    await setAccountData(alice, "m.direct", { [bob.userId]: [roomId] });
    return roomId;
}

/** The new account's session through a proxy that answers 500 to the requests `refuse` picks. */
async function newAccountRefusing(neu: Actor, refuse: (method: string, path: string) => boolean) {
    const proxy = await startFaultProxy(currentBed().b.baseUrl, (method, path) =>
        refuse(method, path) ? { kind: "error", status: 500 } : undefined,
    );
    return { proxy, side: { userId: neu.userId, http: new MatrixHttp(proxy.baseUrl, neu.accessToken) } };
}

test("a direct chat is marked direct for the new account before the old account leaves it; if that fails, the old account stays", async () => {
    const bed = currentBed();
    const [alice, bob, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.a, "bob"), actor(bed.b, "alicenew")]);
    const dm = await plainDm(alice, bob);
    const { proxy, side } = await newAccountRefusing(
        neu,
        (method, path) => method === "PUT" && path.includes("/account_data/m.direct"),
    );
    try {
        const { snapshot, plan: p } = await planFromSync(alice, neu, { leaveOldRooms: true });
        const report = await runMigration(
            p,
            snapshot,
            { old: alice, new: side },
            { scheduler: new Scheduler({ maxRetries: 1 }) },
        );
        const result = resultIn(report, dm);
        expect(result).toMatchObject({ newAccountJoined: true, left: false, outcome: "failed" });
        expect(result.reason).toMatch(/m\.direct: 500/);
        expect((await getState(bob, dm, "m.room.member", alice.userId)).membership).toBe("join");
    } finally {
        await proxy.close();
    }
    // Nothing refused: marked, then left.
    const { snapshot, plan: p } = await planFromSync(alice, neu, { leaveOldRooms: true });
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    expect(resultIn(report, dm)).toMatchObject({ left: true, steps: expect.arrayContaining(["direct", "leave"]) });
    expect(await getAccountData(neu, "m.direct")).toEqual({ [bob.userId]: [dm] });
    expect(report.account.directChatsMarked).toBe(1);
});

test("the old account leaves no room before the notification rules are copied (a room left first would lose its rules on resume)", async () => {
    const bed = currentBed();
    const [alice, bob, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.a, "bob"), actor(bed.b, "alicenew")]);
    const roomId = await createRoom(bob, { name: "Muted room", preset: "public_chat", room_version: "10" });
    await join(alice, roomId);
    await alice.http.request("PUT", `/pushrules/global/room/${seg(roomId)}`, { body: { actions: [] } });
    const { proxy, side } = await newAccountRefusing(
        neu,
        (method, path) => method === "PUT" && path.startsWith("/_matrix/client/v3/pushrules/"),
    );
    try {
        const { snapshot, plan: p } = await planFromSync(alice, neu, { leaveOldRooms: true });
        const report = await runMigration(
            p,
            snapshot,
            { old: alice, new: side },
            { scheduler: new Scheduler({ maxRetries: 1 }) },
        );
        const result = resultIn(report, roomId);
        expect(result).toMatchObject({ newAccountJoined: true, left: false, outcome: "failed" });
        expect(result.reason).toMatch(/notification rules were not copied/);
        expect(report.errors.join(" ")).toMatch(/Notification rules: .*500/);
        expect((await getState(bob, roomId, "m.room.member", alice.userId)).membership).toBe("join");
    } finally {
        await proxy.close();
    }
});

test("a run resumed from another session does not send the moved note again when it is already in the room", async () => {
    const bed = currentBed();
    const [alice, bob, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.a, "bob"), actor(bed.b, "alicenew")]);
    const dm = await plainDm(alice, bob);
    // An earlier run sent the note (through its own session) and was stopped before its journal recorded it.
    const body = `I have moved to a new account: ${neu.userId}. Please reach me there from now on.`;
    await alice.http.request("PUT", `/rooms/${seg(dm)}/send/m.room.message/earlier-session`, {
        body: { msgtype: "m.notice", body },
    });
    const { snapshot, plan: p } = await planFromSync(alice, neu, { movedNotice: true });
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    expect(resultIn(report, dm).steps).toContain("dm-note");
    const page = await bob.http.request<{ chunk: Array<{ sender: string; content: { body?: string } }> }>(
        "GET",
        `/rooms/${seg(dm)}/messages`,
        { query: { dir: "b", limit: 50 } },
    );
    expect(page.chunk.filter((e) => e.sender === alice.userId && e.content.body === body)).toHaveLength(1);
});

test("a run resumed after the old display name was marked moved gives the new account the name without the mark", async () => {
    const bed = currentBed();
    const [alice, neu] = await Promise.all([actor(bed.a, "alice", "Alice Old"), actor(bed.b, "alicenew")]);
    await createRoom(alice, { name: "Somewhere", preset: "public_chat", room_version: "10" });
    // The earlier run's last step marked the old account moved, then it was stopped.
    const moved = `Alice Old (moved to ${neu.userId})`;
    await alice.http.request("PUT", `/profile/${seg(alice.userId)}/displayname`, { body: { displayname: moved } });
    const { snapshot, plan: p } = await planFromSync(alice, neu, { movedNotice: true });
    await runMigration(p, snapshot, { old: alice, new: neu });
    const name = async (who: Actor) =>
        (await who.http.request<{ displayname?: string }>("GET", `/profile/${seg(who.userId)}`)).displayname;
    expect(await name(neu)).toBe("Alice Old");
    expect(await name(alice)).toBe(moved);
});
