/**
 * The reference accounts the benchmarks migrate or plan, built on the two test-bed servers through the plain
 * client-server and admin APIs, so anyone can rebuild them:
 *
 * - `buildReferenceAccount`: an old account `alice` on A with N rooms of a realistic mix — direct chats (with people on
 *   A and on B), invite-only rooms she admins (half of them encrypted), public rooms (some she moderates, one on B),
 *   two spaces with restricted rooms, one room where she may not invite — and an empty new account on B. The people
 *   who build the rooms (and the two server admins) are exempt from rate limits through the admin API; alice and the
 *   new account never are. Alice joins the direct chats and the room on B herself, like any user; the others through
 *   the admin API, which is not rate-limited, so her limits start the migration (almost) untouched. The generator
 *   also says, from how it built each room, how many rooms truly need an invite (the ground truth for
 *   `invite_ratio`, independent of the planner).
 * - `buildLargeAccount`: an account in 1,000 rooms (for planning from synced state), built fast by exempt users.
 */
import { performance } from "node:perf_hooks";

import { MatrixHttp, isMatrixRequestError, seg } from "../src/sessions/matrixHttp.ts";
import { type Bed, type RegisteredUser, registerUser } from "../tests/bed/homeservers.ts";

export interface Person extends RegisteredUser {
    http: MatrixHttp;
}

export function person(user: RegisteredUser): Person {
    return { ...user, http: new MatrixHttp(user.homeserver.baseUrl, user.accessToken) };
}

/** Retries a fixture request the server rate-limited (only the non-exempt alice can meet one). */
async function withRetry<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
        try {
            return await request();
        } catch (e) {
            if (!isMatrixRequestError(e) || !e.isRateLimited || attempt > 20) throw e;
            await new Promise((r) => setTimeout(r, (e.retryAfterMs ?? 1000) + 100));
        }
    }
}

/** Runs tasks with at most `limit` at a time. */
export async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
    const results: T[] = new Array(tasks.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: Math.min(limit, tasks.length) }, async () => {
            while (next < tasks.length) {
                const i = next++;
                results[i] = await tasks[i]!();
            }
        }),
    );
    return results;
}

const createRoom = (who: Person, body: Record<string, unknown>) =>
    withRetry(() => who.http.request<{ room_id: string }>("POST", "/createRoom", { body })).then((r) => r.room_id);

const sendState = (who: Person, roomId: string, type: string, stateKey: string, content: Record<string, unknown>) =>
    withRetry(() =>
        who.http.request("PUT", `/rooms/${seg(roomId)}/state/${seg(type)}/${seg(stateKey)}`, { body: content }),
    );

let txnCounter = 0;
const sendText = (who: Person, roomId: string, body: string) =>
    withRetry(() =>
        who.http.request("PUT", `/rooms/${seg(roomId)}/send/m.room.message/bench-${Date.now()}-${txnCounter++}`, {
            body: { msgtype: "m.text", body },
        }),
    );

const joinSelf = (who: Person, roomId: string, via: string[]) =>
    withRetry(() => who.http.request("POST", `/join/${seg(roomId)}`, { query: { server_name: via, via }, body: {} }));

/** The admin API's join: a local user joins (invited by the admin first if the room is not public); not rate-limited. */
const adminJoin = (admin: Person, userId: string, roomId: string) =>
    admin.http.request("POST", `/join/${seg(roomId)}`, { prefix: "/_synapse/admin/v1", body: { user_id: userId } });

/** Exempts a fixture user from every limit keyed on it as requester (never used for the migrating accounts). */
const exempt = (admin: Person, userId: string) =>
    admin.http.request("POST", `/users/${seg(userId)}/override_ratelimit`, {
        prefix: "/_synapse/admin/v1",
        body: { messages_per_second: 0, burst_count: 0 },
    });

export interface Mix {
    dmsOnA: number;
    dmsOnB: number;
    spaces: number;
    restricted: number;
    publicOnA: number;
    publicOnB: number;
    blocked: number;
    inviteOnly: number;
}

export function mixFor(n: number, publicShare: number): Mix {
    const dms = Math.max(2, Math.round(0.12 * n));
    const dmsOnB = Math.min(2, Math.max(1, Math.round(dms / 3)));
    const spaces = n >= 40 ? 2 : 1;
    const restricted = Math.round(0.2 * n);
    const publicRooms = Math.max(2, Math.round(publicShare * n));
    const mix: Mix = {
        dmsOnA: dms - dmsOnB,
        dmsOnB,
        spaces,
        restricted,
        publicOnA: publicRooms - 1,
        publicOnB: 1,
        blocked: 1,
        inviteOnly: 0,
    };
    const fixed = dms + spaces + restricted + publicRooms + 1;
    mix.inviteOnly = n - fixed;
    if (mix.inviteOnly < 0) {
        mix.restricted = Math.max(1, mix.restricted + mix.inviteOnly);
        mix.inviteOnly = n - (dms + spaces + mix.restricted + publicRooms + 1);
        if (mix.inviteOnly < 0) throw new Error(`Cannot fit the mix into ${n} rooms; lower --public-share`);
    }
    return mix;
}

export interface ReferenceAccount {
    alice: Person;
    newAccount: Person;
    mix: Mix;
    aliceOwnJoins: number;
    /**
     * Rooms that truly need an invite, by how they were built: invite-only rooms and direct chats (the new account is
     * in none of them, and alice may invite there). Spaces are invite-only too and count; restricted and public rooms
     * do not (joining is enough); the room where alice may not invite does not (no invite of hers can help).
     */
    roomsNeedingInvite: number;
    seconds: number;
    /** performance.now() when the last pre-invite landed. */
    preInvitesDoneAt?: number;
}

const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

export interface ReferenceOptions {
    rooms: number;
    publicShare: number;
    /** Someone on B (not exempt) invites the new account this many times just before the migration. */
    preInvites: number;
    buildConcurrency: number;
}

export async function buildReferenceAccount(bed: Bed, options: ReferenceOptions): Promise<ReferenceAccount> {
    const started = performance.now();
    const mix = mixFor(options.rooms, options.publicShare);
    const A = bed.a.serverName;
    const B = bed.b.serverName;

    // Builders: "bob" is A's server admin and creates most rooms; friends on A and carol on B start direct chats.
    const bob = person(await registerUser(bed.a, "bob", { admin: true, displayName: "Bob" }));
    const adminB = person(await registerUser(bed.b, "admin-b", { admin: true }));
    const friends = await Promise.all(
        Array.from({ length: mix.dmsOnA }, (_, i) =>
            registerUser(bed.a, `friend${i}`, { displayName: `Friend ${i}` }).then(person),
        ),
    );
    const carol = person(await registerUser(bed.b, "carol", { displayName: "Carol" }));
    await exempt(bob, bob.userId);
    for (const f of friends) await exempt(bob, f.userId);
    await exempt(adminB, adminB.userId);
    await exempt(adminB, carol.userId);

    // The migrating accounts: never exempt.
    const alice = person(await registerUser(bed.a, "alice", { displayName: "Alice" }));
    const newAccount = person(await registerUser(bed.b, "alice-new"));

    const direct: Record<string, string[]> = {};
    const tags: Array<{ roomId: string; tag: string; content: Record<string, unknown> }> = [];
    let aliceOwnJoins = 0;

    // Direct chats: the partner creates it and invites alice (partners are exempt, so these invites do not count
    // against alice's limits); alice joins herself, like anyone accepting a DM.
    const dmTasks: Array<() => Promise<void>> = [];
    const partners: Person[] = [...friends, ...Array.from({ length: mix.dmsOnB }, () => carol)];
    partners.forEach((partner, i) =>
        dmTasks.push(async () => {
            const roomId = await createRoom(partner, {
                preset: "trusted_private_chat",
                is_direct: true,
                invite: [alice.userId],
                initial_state: [ENCRYPTION],
            });
            await joinSelf(alice, roomId, [serverOf(partner.userId)]);
            aliceOwnJoins++;
            (direct[partner.userId] ??= []).push(roomId);
            if (i % 2 === 0) tags.push({ roomId, tag: "m.favourite", content: { order: i / 10 } });
            await sendText(partner, roomId, `hi alice (${i})`);
        }),
    );
    // A public room on B (the new account's join there is local); alice joins it herself.
    dmTasks.push(async () => {
        const roomId = await createRoom(carol, { name: "B-side plaza", preset: "public_chat" });
        await joinSelf(alice, roomId, [B]);
        aliceOwnJoins++;
        tags.push({ roomId, tag: "m.lowpriority", content: {} });
    });

    // The spaces (alice admins them; invite-only, so the new account needs an invite) and their restricted rooms.
    const spaces: string[] = [];
    for (let s = 0; s < mix.spaces; s++) {
        const space = await createRoom(bob, {
            name: `Bench space ${s}`,
            preset: "private_chat",
            creation_content: { type: "m.space" },
            power_level_content_override: { users: { [alice.userId]: 100 } },
        });
        await adminJoin(bob, alice.userId, space);
        spaces.push(space);
    }

    const roomTasks: Array<() => Promise<void>> = [];
    const adminRoom = (body: Record<string, unknown>, after?: (roomId: string) => Promise<void>) =>
        roomTasks.push(async () => {
            const roomId = await createRoom(bob, body);
            await adminJoin(bob, alice.userId, roomId);
            await sendText(bob, roomId, "welcome");
            await after?.(roomId);
        });
    const admin100 = { users: { [alice.userId]: 100 } };
    for (let i = 0; i < mix.restricted; i++) {
        const space = spaces[i % spaces.length]!;
        adminRoom(
            {
                name: `Space room ${i}`,
                preset: "private_chat",
                power_level_content_override: admin100,
                initial_state: [
                    {
                        type: "m.room.join_rules",
                        state_key: "",
                        content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] },
                    },
                    { type: "m.space.parent", state_key: space, content: { via: [A], canonical: true } },
                    ...(i % 3 === 0 ? [ENCRYPTION] : []),
                ],
            },
            (roomId) => sendState(bob, space, "m.space.child", roomId, { via: [A] }).then(() => undefined),
        );
    }
    for (let i = 0; i < mix.publicOnA; i++) {
        // Half of them alice moderates (join + power), half she is only a member of (join only).
        adminRoom(
            {
                name: `Public ${i}`,
                preset: "public_chat",
                ...(i % 2 === 0 ? { power_level_content_override: admin100 } : {}),
            },
            async (roomId) => {
                if (i % 3 === 1) tags.push({ roomId, tag: "m.lowpriority", content: {} });
            },
        );
    }
    for (let i = 0; i < mix.inviteOnly; i++) {
        adminRoom(
            {
                name: `Team ${i}`,
                preset: "private_chat",
                power_level_content_override: admin100,
                initial_state: i % 2 === 0 ? [ENCRYPTION] : [],
            },
            async (roomId) => {
                if (i % 4 === 0) tags.push({ roomId, tag: "u.work", content: { order: i } });
            },
        );
    }
    for (let i = 0; i < mix.blocked; i++) {
        adminRoom({ name: `Bob's office ${i}`, preset: "private_chat", power_level_content_override: { invite: 50 } });
    }

    await pool([...dmTasks, ...roomTasks], options.buildConcurrency);

    // Account data: not rate-limited.
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/account_data/m.direct`, { body: direct });
    for (const t of tags) {
        await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(t.roomId)}/tags/${seg(t.tag)}`, {
            body: t.content,
        });
    }
    await alice.http.request("PUT", "/pushrules/global/content/keyword-deploy", {
        body: { pattern: "deploy", actions: ["notify"] },
    });
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/account_data/m.ignored_user_list`, {
        body: { ignored_users: { "@spam:example.org": {} } },
    });

    // Invites the new account receives from someone else just before the migration (see ReferenceOptions.preInvites).
    let preInvitesDoneAt: number | undefined;
    if (options.preInvites > 0) {
        const dave = person(await registerUser(bed.b, "dave", { displayName: "Dave" }));
        const rooms = await pool(
            Array.from(
                { length: options.preInvites },
                (_, i) => () => createRoom(dave, { name: `Dave's room ${i}`, preset: "private_chat" }),
            ),
            options.buildConcurrency,
        );
        for (const roomId of rooms) {
            await withRetry(() =>
                dave.http.request("POST", `/rooms/${seg(roomId)}/invite`, { body: { user_id: newAccount.userId } }),
            );
        }
        preInvitesDoneAt = performance.now();
    }

    return {
        alice,
        newAccount,
        mix,
        aliceOwnJoins,
        roomsNeedingInvite: mix.dmsOnA + mix.dmsOnB + mix.inviteOnly + mix.spaces,
        seconds: (performance.now() - started) / 1000,
        preInvitesDoneAt,
    };
}

export function serverOf(userId: string): string {
    return userId.slice(userId.indexOf(":") + 1);
}

/**
 * An account in `rooms` rooms on A, for planning from synced state: a tenth direct chats, a tenth public rooms, five
 * spaces each with restricted rooms, the rest invite-only groups, a third of all encrypted, with tags and `m.direct`.
 * Its owner and the room builder are exempt from rate limits (nothing here measures limits).
 */
export async function buildLargeAccount(
    bed: Bed,
    rooms: number,
    concurrency = 6,
): Promise<{ owner: Person; seconds: number }> {
    const started = performance.now();
    const builder = person(await registerUser(bed.a, "builder", { admin: true }));
    const owner = person(await registerUser(bed.a, "many-rooms", { displayName: "Many Rooms" }));
    await exempt(builder, builder.userId);
    await exempt(builder, owner.userId);
    const A = bed.a.serverName;
    const spaces: string[] = [];
    for (let s = 0; s < 5; s++) {
        spaces.push(
            await createRoom(owner, {
                name: `Space ${s}`,
                preset: "private_chat",
                creation_content: { type: "m.space" },
            }),
        );
    }
    const direct: Record<string, string[]> = {};
    const tasks = Array.from({ length: rooms - spaces.length }, (_, i) => async () => {
        const encrypted = i % 3 === 0 ? [ENCRYPTION] : [];
        if (i % 10 === 0) {
            // A direct chat the builder starts; the owner joins through the admin API.
            const roomId = await createRoom(builder, {
                preset: "trusted_private_chat",
                is_direct: true,
                initial_state: encrypted,
            });
            await adminJoin(builder, owner.userId, roomId);
            (direct[builder.userId] ??= []).push(roomId);
        } else if (i % 10 === 1) {
            const roomId = await createRoom(builder, { name: `Public ${i}`, preset: "public_chat" });
            await adminJoin(builder, owner.userId, roomId);
        } else if (i % 10 === 2) {
            const space = spaces[i % spaces.length]!;
            const roomId = await createRoom(owner, {
                name: `Space room ${i}`,
                preset: "private_chat",
                initial_state: [
                    {
                        type: "m.room.join_rules",
                        state_key: "",
                        content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] },
                    },
                    { type: "m.space.parent", state_key: space, content: { via: [A], canonical: true } },
                    ...encrypted,
                ],
            });
            await sendState(owner, space, "m.space.child", roomId, { via: [A] });
        } else {
            const roomId = await createRoom(owner, {
                name: `Group ${i}`,
                preset: "private_chat",
                initial_state: encrypted,
            });
            if (i % 7 === 0)
                await owner.http.request("PUT", `/user/${seg(owner.userId)}/rooms/${seg(roomId)}/tags/m.favourite`, {
                    body: {},
                });
        }
    });
    await pool(tasks, concurrency);
    await owner.http.request("PUT", `/user/${seg(owner.userId)}/account_data/m.direct`, { body: direct });
    return { owner, seconds: (performance.now() - started) / 1000 };
}
