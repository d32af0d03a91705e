/**
 * An old account with every kind of room the engine must handle, built on the two real servers through the plain
 * client-server API (no crypto needed here: the key hand-over has its own tests).
 *
 * Old account `alice` on A; `bob` on A and `carol` on B are other people; the new account is on B.
 */
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import type { Homeserver } from "../bed/homeservers.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";

export interface Actor extends RegisteredUser {
    http: MatrixHttp;
}

/** A signed-in user as an actor: its own requests to its server, with its access token. */
export function sessionFor<U extends { userId: string; accessToken: string }>(
    hs: Pick<Homeserver, "baseUrl">,
    user: U,
): U & { http: MatrixHttp } {
    return { ...user, http: new MatrixHttp(hs.baseUrl, user.accessToken) };
}

export async function actor(hs: Homeserver, prefix: string, displayName?: string): Promise<Actor> {
    return sessionFor(hs, await registerUser(hs, uniqueLocalpart(prefix), { displayName }));
}

export async function createRoom(who: Actor, body: Record<string, unknown>): Promise<string> {
    const { room_id } = await who.http.request<{ room_id: string }>("POST", "/createRoom", { body });
    return room_id;
}

export async function join(who: Actor, roomId: string, via: string[] = []): Promise<void> {
    await who.http.request("POST", `/join/${seg(roomId)}`, { query: { server_name: via, via }, body: {} });
}

export async function invite(who: Actor, roomId: string, userId: string): Promise<void> {
    await who.http.request("POST", `/rooms/${seg(roomId)}/invite`, { body: { user_id: userId } });
}

export async function sendState(
    who: Actor,
    roomId: string,
    type: string,
    stateKey: string,
    content: Record<string, unknown>,
): Promise<void> {
    await who.http.request("PUT", `/rooms/${seg(roomId)}/state/${seg(type)}/${seg(stateKey)}`, { body: content });
}

export async function getState<T = Record<string, unknown>>(
    who: Actor,
    roomId: string,
    type: string,
    stateKey = "",
): Promise<T> {
    return who.http.request<T>("GET", `/rooms/${seg(roomId)}/state/${seg(type)}/${seg(stateKey)}`);
}

export async function setAccountData(who: Actor, type: string, content: unknown): Promise<void> {
    await who.http.request("PUT", `/user/${seg(who.userId)}/account_data/${seg(type)}`, { body: content });
}

export async function getAccountData<T = Record<string, unknown>>(who: Actor, type: string): Promise<T | undefined> {
    try {
        return await who.http.request<T>("GET", `/user/${seg(who.userId)}/account_data/${seg(type)}`);
    } catch {
        return undefined;
    }
}

export async function sendText(who: Actor, roomId: string, body: string): Promise<void> {
    const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
    await who.http.request("PUT", `/rooms/${seg(roomId)}/send/m.room.message/${txn}`, {
        body: { msgtype: "m.text", body },
    });
}

/** Waits until a user's server sees them in a room with this membership (federation is asynchronous). */
export async function waitForMembership(
    who: Actor,
    roomId: string,
    userId: string,
    membership: string,
    timeoutMs = 15_000,
): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const current = await getState<{ membership?: string }>(who, roomId, "m.room.member", userId).catch(() => ({
            membership: undefined,
        }));
        if (current.membership === membership) return;
        if (Date.now() > deadline)
            throw new Error(`${userId} never reached ${membership} in ${roomId} as seen by ${who.userId}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/**
 * Server ACL globs that backtrack when matched as RegExps (issue 15): `"*"` × 40 then `"!"` took 29 s against
 * `127.0.0.1`; `*a*a…*b` is the same trap for a name with many a's. Servers accept them (Synapse matches in linear
 * time) and they match neither server of the bed.
 */
export const BACKTRACKING_GLOBS = ["*".repeat(40) + "!", "*a".repeat(30) + "*b"];

/** Rooms that cannot move, each for its own reason, with `alice` in them (`bob` on her server helps build them). */
export interface BlockedRooms {
    /** Replaced by `successor` (alice is in both): only the successor moves. */
    tombstoned: string;
    successor: string;
    /** bob's room where alice may not invite. */
    cannotInvite: string;
    /** Its server ACL denies the new account's server. */
    aclDenied: string;
    /** The new account is banned there. */
    banned: string;
    /** `m.federate: false`: no other server can ever join. */
    notFederated: string;
}

export async function createBlockedRooms(
    bed: BedDescription,
    alice: Actor,
    bob: Actor,
    newUserId: string,
): Promise<BlockedRooms> {
    const B = bed.b.serverName;
    // A room replaced by a newer one (alice is in both): only the successor should be migrated.
    const tombstoned = await createRoom(alice, {
        name: "Reading group (old)",
        preset: "private_chat",
        room_version: "10",
    });
    const successor = await createRoom(alice, {
        name: "Reading group",
        preset: "private_chat",
        room_version: "10",
        creation_content: { predecessor: { room_id: tombstoned } },
    });
    await sendState(alice, tombstoned, "m.room.tombstone", "", {
        body: "This room was replaced",
        replacement_room: successor,
    });

    // A room where alice may not invite: bob's, invite level 50, alice at 0.
    const cannotInvite = await createRoom(bob, {
        name: "Bob's office",
        preset: "private_chat",
        room_version: "10",
        invite: [alice.userId],
        power_level_content_override: { invite: 50 },
    });
    await join(alice, cannotInvite);

    // A room whose server ACL denies the new server (B is named by IP literal; A by "localhost"). A room admin's
    // backtracking globs come first in its deny list, so every plan matches them (issue 15: 29 s as RegExps).
    const aclDenied = await createRoom(alice, { name: "Locals only", preset: "private_chat", room_version: "10" });
    await sendState(alice, aclDenied, "m.room.server_acl", "", {
        allow: ["*"],
        deny: [...BACKTRACKING_GLOBS, B.split(":")[0]],
        allow_ip_literals: true,
    });

    // A room that banned the new account, and one that never federates.
    const banned = await createRoom(alice, { name: "Grudge room", preset: "private_chat", room_version: "10" });
    await alice.http.request("POST", `/rooms/${seg(banned)}/ban`, {
        body: { user_id: newUserId, reason: "test" },
    });
    const notFederated = await createRoom(alice, {
        name: "Server-only room",
        preset: "private_chat",
        room_version: "10",
        creation_content: { "m.federate": false },
    });

    return { tombstoned, successor, cannotInvite, aclDenied, banned, notFederated };
}

const PNG_1x1 = Uint8Array.from(
    atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
    (c) => c.charCodeAt(0),
);

export interface Scenario {
    alice: Actor;
    bob: Actor;
    carol: Actor;
    newAccount: Actor;
    rooms: {
        dmBob: string;
        dmCarol: string;
        inviteOnlyAdmin: string;
        inviteOnlyV10Admin: string;
        publicByBob: string;
        space: string;
        restrictedInSpace: string;
        restrictedInSpace2: string;
        pendingInvite: string;
    } & BlockedRooms;
    avatarMxc: string;
}

/** Builds the old account. Takes a few seconds with the raised limits of the functional profile. */
export async function buildScenario(bed: BedDescription): Promise<Scenario> {
    const [alice, bob, carol, newAccount] = await Promise.all([
        actor(bed.a, "alice", "Alice Old"),
        actor(bed.a, "bob", "Bob"),
        actor(bed.b, "carol", "Carol"),
        actor(bed.b, "alicenew"),
    ]);
    const A = bed.a.serverName;

    // Direct chats: with bob (same server) and carol (other server), marked in m.direct on both sides.
    const dmBob = await createRoom(alice, { preset: "trusted_private_chat", is_direct: true, invite: [bob.userId] });
    await join(bob, dmBob);
    const dmCarol = await createRoom(alice, {
        preset: "trusted_private_chat",
        is_direct: true,
        invite: [carol.userId],
    });
    await join(carol, dmCarol, [A]);
    await setAccountData(alice, "m.direct", { [bob.userId]: [dmBob], [carol.userId]: [dmCarol] });

    // Invite-only group rooms alice admins: default (v12, she is creator) and v10 (plain power 100).
    const inviteOnlyAdmin = await createRoom(alice, {
        name: "Project team",
        preset: "private_chat",
        invite: [bob.userId],
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await join(bob, inviteOnlyAdmin);
    const inviteOnlyV10Admin = await createRoom(alice, {
        name: "Old-style room",
        preset: "private_chat",
        room_version: "10",
    });

    // A public room bob created, where alice is a moderator (50) and moderators may change power levels.
    const publicByBob = await createRoom(bob, { name: "Town square", preset: "public_chat", room_version: "10" });
    await join(alice, publicByBob);
    const plPublic = await getState<Record<string, unknown>>(bob, publicByBob, "m.room.power_levels");
    await sendState(bob, publicByBob, "m.room.power_levels", "", {
        ...plPublic,
        users: { ...(plPublic.users as object), [alice.userId]: 50 },
        events: { ...(plPublic.events as object), "m.room.power_levels": 50 },
    });

    // A space (alice creator) with restricted rooms only its members may join.
    const space = await createRoom(alice, {
        name: "Alice's space",
        preset: "private_chat",
        creation_content: { type: "m.space" },
    });
    const restricted = (name: string) =>
        createRoom(alice, {
            name,
            preset: "private_chat",
            initial_state: [
                {
                    type: "m.room.join_rules",
                    state_key: "",
                    content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] },
                },
                { type: "m.space.parent", state_key: space, content: { via: [A], canonical: true } },
            ],
        });
    const restrictedInSpace = await restricted("Space lounge");
    const restrictedInSpace2 = await restricted("Space kitchen");
    await sendState(alice, space, "m.space.child", restrictedInSpace, { via: [A] });
    await sendState(alice, space, "m.space.child", restrictedInSpace2, { via: [A] });

    const { tombstoned, successor, cannotInvite, aclDenied, banned, notFederated } = await createBlockedRooms(
        bed,
        alice,
        bob,
        newAccount.userId,
    );

    // An invite alice never accepted.
    const pendingInvite = await createRoom(carol, {
        name: "Carol's party",
        preset: "private_chat",
        invite: [alice.userId],
    });

    // Room tags.
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(dmBob)}/tags/m.favourite`, {
        body: { order: 0.5 },
    });
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(publicByBob)}/tags/m.lowpriority`, {
        body: {},
    });
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(inviteOnlyV10Admin)}/tags/u.work`, {
        body: { order: 1 },
    });

    // Notification rules: a keyword, a muted room, a sender rule and a disabled custom rule.
    await alice.http.request("PUT", "/pushrules/global/content/keyword-deploy", {
        body: { pattern: "deploy", actions: ["notify", { set_tweak: "highlight" }] },
    });
    await alice.http.request("PUT", "/pushrules/global/content/keyword-lunch", {
        body: { pattern: "lunch", actions: ["notify"] },
    });
    await alice.http.request("PUT", `/pushrules/global/override/${seg(publicByBob)}`, {
        body: { conditions: [{ kind: "event_match", key: "room_id", pattern: publicByBob }], actions: [] },
    });
    await alice.http.request("PUT", `/pushrules/global/room/${seg(inviteOnlyAdmin)}`, {
        body: { actions: ["notify", { set_tweak: "sound", value: "default" }] },
    });
    await alice.http.request("PUT", `/pushrules/global/sender/${seg(bob.userId)}`, { body: { actions: ["notify"] } });
    await alice.http.request("PUT", `/pushrules/global/content/keyword-off`, {
        body: { pattern: "muted-word", actions: ["notify"] },
    });
    await alice.http.request("PUT", `/pushrules/global/content/keyword-off/enabled`, { body: { enabled: false } });

    // Ignored users, settings, and secrets that must never move.
    await setAccountData(alice, "m.ignored_user_list", { ignored_users: { "@spammer:example.org": {} } });
    await setAccountData(alice, "im.vector.web.settings", { theme: "dark", useCompactLayout: true });
    await setAccountData(alice, "io.element.recent_emoji", { recent_emoji: [["👍", 3]] });
    await setAccountData(alice, "m.secret_storage.default_key", { key: "not-a-real-key-id" });
    await setAccountData(alice, "m.secret_storage.key.not-a-real-key-id", {
        algorithm: "m.secret_storage.v1.aes-hmac-sha2",
        iv: "x",
        mac: "y",
    });
    await setAccountData(alice, "m.cross_signing.master", {
        encrypted: { "not-a-real-key-id": { iv: "a", ciphertext: "b", mac: "c" } },
    });
    await setAccountData(alice, "m.megolm_backup.v1", {
        encrypted: { "not-a-real-key-id": { iv: "a", ciphertext: "b", mac: "c" } },
    });

    // The new account already has a direct chat of its own and an ignored user: both must survive the merge.
    const newOwnDm = await createRoom(newAccount, {
        preset: "trusted_private_chat",
        is_direct: true,
        invite: [carol.userId],
    });
    await setAccountData(newAccount, "m.direct", { [carol.userId]: [newOwnDm] });
    await setAccountData(newAccount, "m.ignored_user_list", { ignored_users: { "@troll:example.org": {} } });

    // Profile with an avatar.
    const upload = await alice.http.request<{ content_uri: string }>("POST", "/upload", {
        prefix: "/_matrix/media/v3",
        body: PNG_1x1,
        headers: { "Content-Type": "image/png" },
        query: { filename: "avatar.png" },
    });
    await alice.http.request("PUT", `/profile/${seg(alice.userId)}/avatar_url`, {
        body: { avatar_url: upload.content_uri },
    });

    await sendText(alice, dmBob, "hello bob");
    await waitForMembership(alice, dmCarol, carol.userId, "join");

    return {
        alice,
        bob,
        carol,
        newAccount,
        avatarMxc: upload.content_uri,
        rooms: {
            dmBob,
            dmCarol,
            inviteOnlyAdmin,
            inviteOnlyV10Admin,
            publicByBob,
            space,
            restrictedInSpace,
            restrictedInSpace2,
            tombstoned,
            successor,
            cannotInvite,
            aclDenied,
            banned,
            notFederated,
            pendingInvite,
        },
    };
}
