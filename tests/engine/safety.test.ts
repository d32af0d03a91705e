/**
 * Safety findings of the security review (issue 7) that cross the network, each against the two real Synapse
 * servers: what the old account may leave is decided on live state read from both servers; nested spaces join
 * parents first; a step the plan knows cannot set a level does not poll for it; settings that must not move stay;
 * a server that does not answer is waited out, then the step fails with a reason.
 */
import { runMigration } from "../../src/engine/migration.ts";
import { Scheduler, type WaitNotice } from "../../src/engine/scheduler.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { startFaultProxy } from "../bed/faultProxy.ts";
import {
    type Actor,
    actor,
    createRoom,
    getAccountData,
    getState,
    join,
    sendState,
    setAccountData,
    waitForMembership,
} from "../support/scenario.ts";
import { planFromSync, resultIn } from "../support/runs.ts";

async function setLevels(who: Actor, roomId: string, users: Record<string, number>): Promise<void> {
    const pl = await getState<Record<string, unknown>>(who, roomId, "m.room.power_levels");
    await sendState(who, roomId, "m.room.power_levels", "", { ...pl, users: { ...(pl.users as object), ...users } });
}

test("issue 7.3: a level lowered after planning keeps the old account in the room (levels are read right before leaving)", async () => {
    const bed = currentBed();
    const [alice, bob, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.a, "bob"), actor(bed.b, "alicenew")]);
    const roomId = await createRoom(bob, {
        name: "Level room",
        preset: "private_chat",
        room_version: "10",
        invite: [alice.userId, neu.userId],
    });
    await join(alice, roomId);
    await join(neu, roomId, [bed.a.serverName]);
    await setLevels(bob, roomId, { [alice.userId]: 90, [neu.userId]: 90 });
    await waitForMembership(alice, roomId, neu.userId, "join");

    // Planned while the new account had the level: nothing to set, "already".
    const { snapshot, plan: p } = await planFromSync(alice, neu, { leaveOldRooms: true });
    expect(p.rooms.find((r) => r.roomId === roomId)).toMatchObject({ status: "already", targetPowerLevel: null });

    // Then an admin lowers the new account before the run.
    await setLevels(bob, roomId, { [neu.userId]: 50 });
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    const result = resultIn(report, roomId);
    expect(result.left).toBe(false);
    expect(result.outcome).toBe("needs-action");
    expect(result.reasons.map((r) => r.key)).toContain("reason|stayed-level-lower");
    expect(result.reason).toMatch(/has level 50 there, lower than the old account's 90/);
    expect((await getState(alice, roomId, "m.room.member", alice.userId)).membership).toBe("join");
});

test("issue 7.4: joined as the new server sees it but not on the old account's server: the old account stays", async () => {
    const bed = currentBed();
    const [alice, carol, neu] = await Promise.all([
        actor(bed.a, "alice"),
        actor(bed.b, "carol"),
        actor(bed.b, "alicenew"),
    ]);
    // A room on B that alice (A) is in; the new account (B) joins locally on B.
    const roomId = await createRoom(carol, { name: "Partitioned", preset: "public_chat", room_version: "10" });
    await join(alice, roomId, [bed.b.serverName]);
    await waitForMembership(carol, roomId, alice.userId, "join");
    // A joined B's room with partial state (faster joins); Synapse leaves such a room out of a /sync that asks for all
    // members until it has the full state, which takes a moment.
    let planned = await planFromSync(alice, neu, { leaveOldRooms: true });
    for (let tries = 0; !planned.plan.rooms.some((r) => r.roomId === roomId) && tries < 50; tries++) {
        await new Promise((r) => setTimeout(r, 200));
        planned = await planFromSync(alice, neu, { leaveOldRooms: true });
    }
    const { snapshot, plan: p } = planned;
    expect(p.rooms.find((r) => r.roomId === roomId)).toMatchObject({ status: "ready", route: "join" });

    // After planning, the room's server ACL starts denying B: the old account's server A no longer accepts events from
    // B, so it never learns of the new account's join, while B itself shows it joined.
    await sendState(carol, roomId, "m.room.server_acl", "", {
        allow: ["*"],
        deny: [bed.b.serverName.split(":")[0]],
        allow_ip_literals: true,
    });
    await new Promise((r) => setTimeout(r, 1000));

    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    const result = resultIn(report, roomId);
    expect((await getState(neu, roomId, "m.room.member", neu.userId)).membership).toBe("join");
    expect(result.left).toBe(false);
    expect(result.reasons.map((r) => r.key)).toContain("reason|stayed-not-joined-old");
    expect((await getState(alice, roomId, "m.room.member", alice.userId)).membership).toBe("join");
});

test("issue 7.6: a three-level space whose names sort child-first is joined parents first, every level", async () => {
    const bed = currentBed();
    const [alice, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.b, "alicenew")]);
    const A = bed.a.serverName;
    const restrictedTo = (parent: string) => [
        {
            type: "m.room.join_rules",
            state_key: "",
            content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: parent }] },
        },
        { type: "m.space.parent", state_key: parent, content: { via: [A], canonical: true } },
    ];
    const top = await createRoom(alice, {
        name: "Zeta top",
        preset: "private_chat",
        room_version: "10",
        creation_content: { type: "m.space" },
    });
    const middle = await createRoom(alice, {
        name: "Mu middle",
        preset: "private_chat",
        room_version: "10",
        creation_content: { type: "m.space" },
        initial_state: restrictedTo(top),
    });
    const bottom = await createRoom(alice, {
        name: "Alpha bottom",
        preset: "private_chat",
        room_version: "10",
        creation_content: { type: "m.space" },
        initial_state: restrictedTo(middle),
    });
    const inner = await createRoom(alice, {
        name: "Aardvark room",
        preset: "private_chat",
        room_version: "10",
        initial_state: restrictedTo(bottom),
    });
    await sendState(alice, top, "m.space.child", middle, { via: [A] });
    await sendState(alice, middle, "m.space.child", bottom, { via: [A] });
    await sendState(alice, bottom, "m.space.child", inner, { via: [A] });

    const { snapshot, plan: p } = await planFromSync(alice, neu);
    expect(p.rooms.map((r) => r.name)).toEqual(["Zeta top", "Mu middle", "Alpha bottom", "Aardvark room"]);
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    expect(report.rooms.map((r) => [r.name, r.outcome])).toEqual([
        ["Zeta top", "migrated"],
        ["Mu middle", "migrated"],
        ["Alpha bottom", "migrated"],
        ["Aardvark room", "migrated"],
    ]);
    expect(report.invitesSent).toBe(1);
    for (const roomId of [top, middle, bottom, inner])
        expect((await getState(neu, roomId, "m.room.member", neu.userId)).membership).toBe("join");
});

test("issue 7.18: where the old account may not set levels, the run confirms the membership only and records the blocker at once", async () => {
    const bed = currentBed();
    const [alice, bob, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.a, "bob"), actor(bed.b, "alicenew")]);
    const roomId = await createRoom(bob, {
        name: "Moderated",
        preset: "private_chat",
        room_version: "10",
        invite: [alice.userId],
    });
    await join(alice, roomId);
    await setLevels(bob, roomId, { [alice.userId]: 50 });
    const { snapshot, plan: p } = await planFromSync(alice, neu);
    expect(p.rooms.find((r) => r.roomId === roomId)!.blockers.map((b) => b.code)).toEqual(["old-cannot-set-power"]);

    const mark = logMark([bed.b]);
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    const result = resultIn(report, roomId);
    expect(result).toMatchObject({ outcome: "needs-action", newAccountJoined: true });
    expect(result.reason).toMatch(/may not change power levels/);
    expect(result.adminMessage).toMatch(/power level 50/);
    // The new server was asked about the room's levels once, not polled for a level nobody here can set.
    const levelReads = (await requestsSince([bed.b], mark)).filter((r) =>
        r.path.includes(`/rooms/${roomId}/state/m.room.power_levels`),
    );
    expect(levelReads.length).toBeLessThanOrEqual(2);
});

test("issue 7.14: room-level settings move only when ticked; a denied type never moves, even when ticked", async () => {
    const bed = currentBed();
    const [alice, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.b, "alicenew")]);
    const ticked = await createRoom(alice, { name: "Ticked", preset: "private_chat", room_version: "10" });
    const unticked = await createRoom(alice, { name: "Unticked", preset: "private_chat", room_version: "10" });
    const roomData = (roomId: string, type: string, content: unknown) =>
        alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(roomId)}/account_data/${seg(type)}`, {
            body: content,
        });
    await roomData(ticked, "org.example.room_pref", { x: 1 });
    await roomData(unticked, "org.example.other_pref", { y: 2 });
    await setAccountData(alice, "im.vector.analytics", { id: "analytics-id-of-the-old-account" });

    const { snapshot, plan: p } = await planFromSync(alice, neu);
    expect(p.optionalAccountData.map((o) => o.type)).not.toContain("im.vector.analytics");
    p.optionalAccountData.find((o) => o.type === "org.example.room_pref")!.selected = true;
    // As if a front end offered it anyway: the engine checks the deny list again when writing.
    p.optionalAccountData.push({ type: "im.vector.analytics", scope: "account", label: "Analytics", selected: true });
    await runMigration(p, snapshot, { old: alice, new: neu });

    const newRoomData = (roomId: string, type: string) =>
        neu.http
            .request("GET", `/user/${seg(neu.userId)}/rooms/${seg(roomId)}/account_data/${seg(type)}`)
            .catch(() => undefined);
    expect(await newRoomData(ticked, "org.example.room_pref")).toEqual({ x: 1 });
    expect(await newRoomData(unticked, "org.example.other_pref")).toBeUndefined();
    expect(await getAccountData(neu, "im.vector.analytics")).toBeUndefined();
});

test("issue 7.17: the report says why the old account stayed in a room that moved (a v12 creator room)", async () => {
    const bed = currentBed();
    const [alice, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.b, "alicenew")]);
    const roomId = await createRoom(alice, { name: "Created by alice", preset: "private_chat", room_version: "12" });
    const { snapshot, plan: p } = await planFromSync(alice, neu, { leaveOldRooms: true });
    const report = await runMigration(p, snapshot, { old: alice, new: neu });
    const result = resultIn(report, roomId);
    expect(result).toMatchObject({ outcome: "migrated", left: false });
    expect(result.reasons.map((r) => r.key)).toEqual(["reason|stayed", "blocker|creator-power"]);
    expect(result.reason).toMatch(
        /^The old account stays in “Created by alice”: “Created by alice” .* has creators \(the old account is one of them\)/,
    );
});

test("issue 7.8: a server that stops answering is waited out with that reason, then the step fails; the run ends", async () => {
    const bed = currentBed();
    const [alice, neu] = await Promise.all([actor(bed.a, "alice"), actor(bed.b, "alicenew")]);
    const roomId = await createRoom(alice, { name: "Open house", preset: "public_chat", room_version: "10" });
    const proxy = await startFaultProxy(bed.b.baseUrl, (method, path) =>
        method === "POST" && path.includes("/join/") ? { kind: "stall" } : undefined,
    );
    try {
        const newViaProxy = {
            userId: neu.userId,
            http: new MatrixHttp(proxy.baseUrl, neu.accessToken, undefined, 1500),
        };
        const { snapshot, plan: p } = await planFromSync(alice, neu);
        const waits: WaitNotice[] = [];
        const started = Date.now();
        const report = await runMigration(
            p,
            snapshot,
            { old: alice, new: newViaProxy },
            { scheduler: new Scheduler({ maxRetries: 2 }), onWait: (w) => waits.push(w) },
        );
        expect(Date.now() - started).toBeLessThan(60_000);
        expect(proxy.injected.length).toBe(3);
        expect(waits.filter((w) => w.bucket === "new:join").map((w) => w.reason)).toEqual([
            "not-answering",
            "not-answering",
        ]);
        const result = resultIn(report, roomId);
        expect(result.outcome).toBe("failed");
        expect(result.reason).toMatch(/the server is not answering \(no answer within 2 s\)/);
    } finally {
        await proxy.close();
    }
});

test("issue 7.8: an error body is read only up to its cap (a body that never ends does not hang the request)", async () => {
    // A real HTTP server on loopback answering an error whose body never ends: reading stops at the cap.
    const { createServer } = await import("node:http");
    let sent = 0;
    const server = createServer((_req, res) => {
        res.writeHead(500, { "Content-Type": "text/plain" });
        const chunk = "x".repeat(16 * 1024);
        const timer = setInterval(() => {
            sent += chunk.length;
            res.write(chunk);
        }, 5);
        res.on("close", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        const { port } = server.address() as { port: number };
        const error = await new MatrixHttp(`http://127.0.0.1:${port}`, undefined, undefined, 20_000)
            .request("GET", "/anything")
            .catch((e) => e);
        expect(error.httpStatus).toBe(500);
        expect(error.notAnswering).toBe(false);
        expect(error.serverMessage).toMatch(/^x{200}$/);
        expect(sent).toBeLessThan(4 * 1024 * 1024);
    } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
    }
});
