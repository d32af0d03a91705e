/**
 * The engine against two real Synapse servers: an old account on A with every kind of room moves to an account on
 * B. Checks what the new account ends up with, as the new account itself reads it back.
 */
import { buildPlan, invitesNeeded, type MigrationPlan } from "../../src/engine/plan.ts";
import { runMigration, reportExitCode, type MigrationReport } from "../../src/engine/migration.ts";
import type { AccountSnapshot } from "../../src/engine/snapshot.ts";
import { snapshotFromSync } from "../../src/sessions/snapshots.ts";
import { seg } from "../../src/sessions/matrixHttp.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Scenario, buildScenario, getAccountData, getState } from "../support/scenario.ts";

let s: Scenario;
let snapshot: AccountSnapshot;
let plan: MigrationPlan;
let report: MigrationReport;

beforeAll(async () => {
    s = await buildScenario(currentBed());
    snapshot = await snapshotFromSync(s.alice.http, s.alice.userId);
    plan = buildPlan(snapshot, s.newAccount.userId);
    plan.optionalAccountData.find((o) => o.type === "im.vector.web.settings")!.selected = true;
    report = await runMigration(plan, snapshot, { old: s.alice, new: s.newAccount });
});

const outcome = (roomId: string) => report.rooms.find((r) => r.roomId === roomId);
const planned = (roomId: string) => plan.rooms.find((r) => r.roomId === roomId)!;

test("the plan routes each room with the fewest invites", () => {
    const r = s.rooms;
    expect(planned(r.publicByBob).route).toBe("join");
    expect(planned(r.space).route).toBe("invite");
    expect(planned(r.restrictedInSpace)).toMatchObject({ route: "join", joinAfterSpace: r.space });
    expect(planned(r.restrictedInSpace2)).toMatchObject({ route: "join", joinAfterSpace: r.space });
    expect(planned(r.inviteOnlyAdmin).route).toBe("invite");
    expect(planned(r.dmBob)).toMatchObject({ kind: "dm", route: "invite", dmPartners: [s.bob.userId] });
    // Spaces come first, so restricted rooms can follow.
    expect(plan.rooms[0].roomId).toBe(r.space);
    // Invites only where there is no other way: the two DMs, the space, two admin rooms, the successor.
    expect(invitesNeeded(plan)).toBe(6);
    expect(plan.pendingInvites.map((p) => p.roomId)).toEqual([r.pendingInvite]);
    expect(plan.pendingInvites[0].inviter).toBe(s.carol.userId);
    expect(plan.rooms.map((p) => p.roomId)).not.toContain(r.pendingInvite);
});

test("every migratable room is joined with the old account's power level, read back by the new account", async () => {
    const r = s.rooms;
    // Where alice is a creator (v12 rooms, the default), her power cannot be handed over; the new account gets the
    // highest level the room uses: 150, what Synapse's v12 defaults ask for m.room.tombstone.
    const creatorRoomLevel = 150;
    const expectations: Array<[string, number]> = [
        [r.publicByBob, 50],
        [r.inviteOnlyV10Admin, 100],
        [r.successor, 100],
        [r.inviteOnlyAdmin, creatorRoomLevel],
        [r.space, creatorRoomLevel],
        [r.restrictedInSpace, creatorRoomLevel],
        [r.restrictedInSpace2, creatorRoomLevel],
        [r.dmBob, creatorRoomLevel],
        [r.dmCarol, creatorRoomLevel],
    ];
    for (const [roomId, level] of expectations) {
        const member = await getState(s.newAccount, roomId, "m.room.member", s.newAccount.userId);
        expect({ roomId, membership: member.membership }).toEqual({ roomId, membership: "join" });
        const pl = await getState<{ users: Record<string, number> }>(s.newAccount, roomId, "m.room.power_levels");
        expect({ roomId, level: pl.users[s.newAccount.userId] }).toEqual({ roomId, level });
        expect(outcome(roomId)?.outcome).toBe("migrated");
    }
});

test("invites went only where needed: public and restricted rooms were joined without one", async () => {
    const r = s.rooms;
    expect(report.invitesSent).toBe(6);
    for (const roomId of [r.publicByBob, r.restrictedInSpace, r.restrictedInSpace2]) {
        expect(outcome(roomId)).toMatchObject({ invited: false });
        expect(outcome(roomId)!.steps).not.toContain("invite");
    }
    // The join into the restricted room was authorised through the space, not an invite.
    const member = await getState<Record<string, unknown>>(
        s.newAccount,
        r.restrictedInSpace,
        "m.room.member",
        s.newAccount.userId,
    );
    expect(member.join_authorised_via_users_server).toBe(s.alice.userId);
});

test("rooms that cannot move are reported with a plain reason and a message for an admin", () => {
    const r = s.rooms;
    expect(outcome(r.cannotInvite)).toMatchObject({ outcome: "needs-action" });
    expect(outcome(r.cannotInvite)!.reason).toMatch(/may not invite/);
    expect(outcome(r.cannotInvite)!.adminMessage).toContain(`invite ${s.newAccount.userId}`);
    expect(outcome(r.aclDenied)).toMatchObject({ outcome: "needs-action" });
    expect(outcome(r.aclDenied)!.reason).toMatch(/server access list/);
    expect(outcome(r.aclDenied)!.adminMessage).toMatch(/allow that server/);
    expect(outcome(r.banned)).toMatchObject({ outcome: "needs-action" });
    expect(outcome(r.banned)!.adminMessage).toContain(`unban ${s.newAccount.userId}`);
    expect(outcome(r.notFederated)).toMatchObject({ outcome: "skipped" });
    expect(outcome(r.notFederated)!.reason).toMatch(/can never join/);
    expect(outcome(r.tombstoned)).toMatchObject({ outcome: "skipped" });
    expect(outcome(r.tombstoned)!.reason).toMatch(/replaced by a newer room/);
    expect(reportExitCode(report)).toBe(3);
    expect(report.errors).toEqual([]);
});

test("a creator's power is reported as something that cannot be handed over", () => {
    const project = planned(s.rooms.inviteOnlyAdmin);
    expect(project.blockers.map((b) => b.code)).toContain("creator-power");
    expect(project.blockers.find((b) => b.code === "creator-power")!.blocks).toBe("leave");
    expect(planned(s.rooms.inviteOnlyV10Admin).blockers).toEqual([]);
});

test("m.direct gains the migrated direct chats and keeps the new account's own", async () => {
    const direct = await getAccountData<Record<string, string[]>>(s.newAccount, "m.direct");
    expect(direct?.[s.bob.userId]).toEqual([s.rooms.dmBob]);
    expect(direct?.[s.carol.userId]).toHaveLength(2);
    expect(direct?.[s.carol.userId]).toContain(s.rooms.dmCarol);
});

test("room tags, notification rules, ignored users, settings and profile are carried over; secrets are not", async () => {
    const neu = s.newAccount;
    const tags = async (roomId: string) =>
        (
            await neu.http.request<{ tags: Record<string, unknown> }>(
                "GET",
                `/user/${seg(neu.userId)}/rooms/${seg(roomId)}/tags`,
            )
        ).tags;
    expect(await tags(s.rooms.dmBob)).toEqual({ "m.favourite": { order: 0.5 } });
    expect(await tags(s.rooms.publicByBob)).toEqual({ "m.lowpriority": {} });
    expect(await tags(s.rooms.inviteOnlyV10Admin)).toEqual({ "u.work": { order: 1 } });

    const rules = (
        await neu.http.request<{
            global: Record<string, Array<{ rule_id: string; enabled: boolean; pattern?: string }>>;
        }>("GET", "/pushrules/")
    ).global;
    const customContent = rules.content.filter((r) => !r.rule_id.startsWith("."));
    // Same rules, same order as the old account's.
    expect(customContent.map((r) => r.rule_id)).toEqual(["keyword-off", "keyword-lunch", "keyword-deploy"]);
    expect(customContent.find((r) => r.rule_id === "keyword-off")!.enabled).toBe(false);
    expect(rules.override.map((r) => r.rule_id)).toContain(s.rooms.publicByBob);
    expect(rules.room.map((r) => r.rule_id)).toContain(s.rooms.inviteOnlyAdmin);
    expect(rules.sender.map((r) => r.rule_id)).toContain(s.bob.userId);

    expect(await getAccountData(neu, "m.ignored_user_list")).toEqual({
        ignored_users: { "@troll:example.org": {}, "@spammer:example.org": {} },
    });
    expect(await getAccountData(neu, "im.vector.web.settings")).toEqual({ theme: "dark", useCompactLayout: true });
    // Not opted in: stays behind.
    expect(await getAccountData(neu, "io.element.recent_emoji")).toBeUndefined();
    for (const secret of [
        "m.secret_storage.default_key",
        "m.secret_storage.key.not-a-real-key-id",
        "m.cross_signing.master",
        "m.megolm_backup.v1",
    ]) {
        expect({ secret, content: await getAccountData(neu, secret) }).toEqual({ secret, content: undefined });
    }

    const profile = await neu.http.request<{ displayname?: string; avatar_url?: string }>(
        "GET",
        `/profile/${seg(neu.userId)}`,
    );
    expect(profile.displayname).toBe("Alice Old");
    expect(profile.avatar_url).toMatch(
        new RegExp(`^mxc://${s.newAccount.homeserver.serverName.replace(/\./g, "\\.")}/`),
    );
    expect(report.account.profile).toEqual(["displayname", "avatar"]);
});

test("the journal in the old account's account data records progress and holds no secrets", async () => {
    const doc = await getAccountData<{
        version: number;
        migrations: Record<string, { rooms: Record<string, { c?: number }>; finishedAt?: number }>;
    }>(s.alice, "io.github.matrix_account_migration.journal");
    expect(doc?.version).toBe(1);
    const journal = doc!.migrations[s.newAccount.userId];
    expect(journal.finishedAt).toBeGreaterThan(0);
    expect(journal.rooms[s.rooms.publicByBob].c).toBe(50);
    expect(JSON.stringify(doc)).not.toMatch(/access_token|password|syt_|session_key/);
});

test("running the same migration again changes nothing", async () => {
    const bed = currentBed();
    const mark = logMark([bed.a, bed.b]);
    const freshSnapshot = await snapshotFromSync(s.alice.http, s.alice.userId);
    const freshPlan = buildPlan(freshSnapshot, s.newAccount.userId);
    const again = await runMigration(freshPlan, freshSnapshot, {
        old: s.alice,
        new: s.newAccount,
    });
    // Only the old account's own journal is written (its heartbeat as the run starts, then its end); nothing in any
    // room, nothing on the new account.
    const writes = (await requestsSince([bed.a, bed.b], mark)).filter((r) => r.method !== "GET");
    expect(writes.length).toBeLessThanOrEqual(2);
    expect([...new Set(writes.map((w) => `${w.method} ${w.path}`))]).toEqual([
        `PUT /_matrix/client/v3/user/${s.alice.userId}/account_data/io.github.matrix_account_migration.journal`,
    ]);
    expect(again.invitesSent).toBe(0);
    const done = again.rooms.filter((r) => r.outcome === "migrated" || r.outcome === "already");
    expect(done.filter((r) => r.outcome !== "already").map((r) => [r.name, r.steps])).toEqual([]);
    expect(done.length).toBe(9);
    expect(again.account).toMatchObject({
        profile: [],
        directChatsMarked: 0,
        pushRuleChanges: 0,
        ignoredUsersAdded: 0,
    });
});

test("with leaving chosen, the old account leaves only rooms whose gate is open", async () => {
    const snap = await snapshotFromSync(s.alice.http, s.alice.userId);
    const leaving = await runMigration(buildPlan(snap, s.newAccount.userId, { leaveOldRooms: true }), snap, {
        old: s.alice,
        new: s.newAccount,
    });
    const result = (roomId: string) => leaving.rooms.find((r) => r.roomId === roomId)!;
    const r = s.rooms;
    // New account confirmed with the old level, no keys to hand over: left.
    for (const roomId of [r.inviteOnlyV10Admin, r.successor, r.publicByBob]) {
        expect({ room: result(roomId).name, left: result(roomId).left }).toEqual({
            room: result(roomId).name,
            left: true,
        });
        // As the room's own server (A) records it. Server B joined with partial state (faster joins), so its view of
        // other members can lag; A is where these rooms live.
        expect((await getState(s.alice, roomId, "m.room.member", s.alice.userId)).membership).toBe("leave");
    }
    // A creator's power cannot be handed over: stays.
    expect(result(r.space)).toMatchObject({ left: false });
    expect(result(r.space).steps.join(" ")).toMatch(/stayed: .* has creators \(the old account is one of them\)/);
    // Encrypted, and no key hand-over in this run: stays.
    expect(result(r.inviteOnlyAdmin)).toMatchObject({ left: false });
    // Blocked rooms were never joined by the new account: the old account stays in them.
    for (const roomId of [r.cannotInvite, r.aclDenied, r.banned, r.notFederated])
        expect(result(roomId)).toMatchObject({ left: false });
    const stillJoined = await s.alice.http.request<{ joined_rooms: string[] }>("GET", "/joined_rooms");
    expect(stillJoined.joined_rooms).toEqual(
        expect.arrayContaining([r.space, r.inviteOnlyAdmin, r.cannotInvite, r.notFederated]),
    );
});
