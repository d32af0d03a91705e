/**
 * What a migration of a trial account (trialAccount.ts) left behind, read from the servers themselves — each
 * server's own copy of the rooms through its admin API, the key backups through each account — never from the
 * CLI's report or journal:
 * - `migrationState`: the end state, with room ids replaced by the fixture's names so two copies of the fixture (a
 *   run that was interrupted and its uninterrupted twin) can be compared as a whole;
 * - `unsafeLeaves`: every room the old account has left although the new account is not in it, on both servers, at
 *   a level at least the old account's, with every key of the old backup for that room in the new backup.
 */
import { seg } from "../../src/sessions/matrixHttp.ts";
import type { Actor } from "../support/scenario.ts";
import { getAccountData } from "../support/scenario.ts";
import type { TrialAccount } from "./trialAccount.ts";

/** What `unsafeLeaves` needs of an account: its rooms, both accounts' sessions, and each server's admin. */
export type MigratedAccount = Pick<TrialAccount, "rooms" | "alice" | "aliceNew" | "adminA" | "adminB">;

interface StateEvent {
    type: string;
    state_key: string;
    content: Record<string, unknown>;
}

/**
 * A room's current state as one server holds it; undefined when that server is not in the room (it never was, or its
 * last user left: Synapse then drops the room's current state).
 */
async function serverState(admin: Actor, roomId: string): Promise<StateEvent[] | undefined> {
    try {
        const { state } = await admin.http.request<{ state: StateEvent[] }>("GET", `/rooms/${seg(roomId)}/state`, {
            prefix: "/_synapse/admin/v1",
        });
        return state.some((e) => e.type === "m.room.create") ? state : undefined;
    } catch {
        return undefined;
    }
}

function membership(state: StateEvent[] | undefined, userId: string): string | null {
    return (
        (state?.find((e) => e.type === "m.room.member" && e.state_key === userId)?.content.membership as
            string | undefined) ?? null
    );
}

function level(state: StateEvent[] | undefined, userId: string): number | null {
    const pl = state?.find((e) => e.type === "m.room.power_levels" && e.state_key === "")?.content;
    if (!pl) return null;
    const users = (pl.users ?? {}) as Record<string, number>;
    return users[userId] ?? (typeof pl.users_default === "number" ? pl.users_default : 0);
}

function isEncrypted(state: StateEvent[] | undefined): boolean {
    return !!state?.some((e) => e.type === "m.room.encryption");
}

/** Session ids of one room in an account's current key backup. */
async function backedUpSessions(who: Actor, roomId: string): Promise<Set<string>> {
    const { version } = await who.http.request<{ version: string }>("GET", "/room_keys/version");
    const room = await who.http
        .request<{ sessions?: Record<string, unknown> }>("GET", `/room_keys/keys/${seg(roomId)}`, {
            query: { version },
        })
        .catch(() => ({ sessions: {} }));
    return new Set(Object.keys(room.sessions ?? {}));
}

/** Keys of the old backup for this room that the new backup lacks. */
async function keysMissing(t: MigratedAccount, roomId: string): Promise<number> {
    const [old, neu] = await Promise.all([backedUpSessions(t.alice, roomId), backedUpSessions(t.aliceNew, roomId)]);
    return [...old].filter((id) => !neu.has(id)).length;
}

/** Notices in the room from the old account saying it moved, as `reader` (a member) sees the timeline. */
async function movedNotes(reader: Actor, roomId: string, oldUserId: string): Promise<number> {
    const page = await reader.http.request<{
        chunk: Array<{ type: string; sender: string; content: { msgtype?: string; body?: string } }>;
    }>("GET", `/rooms/${seg(roomId)}/messages`, { query: { dir: "b", limit: 200 } });
    return page.chunk.filter(
        (e) =>
            e.type === "m.room.message" &&
            e.sender === oldUserId &&
            e.content.msgtype === "m.notice" &&
            /moved to a new account/.test(e.content.body ?? ""),
    ).length;
}

export async function migrationState(t: TrialAccount): Promise<Record<string, unknown>> {
    const names = new Map(Object.entries(t.rooms).map(([name, id]) => [id, name]));
    const old = t.alice.userId;
    const neu = t.aliceNew.userId;
    const rooms: Record<string, unknown> = {};
    for (const [name, roomId] of Object.entries(t.rooms)) {
        const [onA, onB] = await Promise.all([serverState(t.adminA, roomId), serverState(t.adminB, roomId)]);
        const { tags } = await t.aliceNew.http.request<{ tags: Record<string, unknown> }>(
            "GET",
            `/user/${seg(neu)}/rooms/${seg(roomId)}/tags`,
        );
        rooms[name] = {
            newAccount: {
                membership: membership(onB, neu),
                level: membership(onB, neu) === "join" ? level(onB, neu) : null,
            },
            oldAccount: membership(onA, old) ?? membership(onB, old),
            tags,
            ...(isEncrypted(onA ?? onB) && membership(onB, neu) === "join"
                ? { keysMissing: await keysMissing(t, roomId) }
                : {}),
        };
    }
    const notes = Object.fromEntries(
        await Promise.all(t.plainDms.map(async (id) => [names.get(id)!, await movedNotes(t.bob, id, old)] as const)),
    );
    const direct = (await getAccountData<Record<string, string[]>>(t.aliceNew, "m.direct")) ?? {};
    const rules = (
        await t.aliceNew.http.request<{ global: Record<string, Array<{ rule_id: string; enabled: boolean }>> }>(
            "GET",
            "/pushrules/",
        )
    ).global;
    const customRules = Object.fromEntries(
        Object.entries(rules).map(([kind, list]) => [
            kind,
            list
                .filter((r) => !r.rule_id.startsWith("."))
                .map((r) => `${names.get(r.rule_id) ?? r.rule_id}:${r.enabled}`),
        ]),
    );
    const profile = await t.aliceNew.http.request<{ displayname?: string; avatar_url?: string }>(
        "GET",
        `/profile/${seg(neu)}`,
    );
    return {
        rooms,
        movedNotes: notes,
        direct: Object.values(direct)
            .flat()
            .map((id) => names.get(id) ?? "other")
            .sort(),
        pushRules: customRules,
        ignored: Object.keys(
            ((await getAccountData(t.aliceNew, "m.ignored_user_list"))?.ignored_users ?? {}) as object,
        ).sort(),
        profile: { displayname: profile.displayname, avatar: !!profile.avatar_url },
    };
}

/**
 * Rooms the old account has left where the new account does not fully replace it, as the servers hold them now:
 * joined on both servers, at a level at least the old account's, and — encrypted rooms — every key of the old
 * backup for the room in the new backup. Each problem is one line naming the room.
 */
export async function unsafeLeaves(t: MigratedAccount): Promise<string[]> {
    const problems: string[] = [];
    const old = t.alice.userId;
    const neu = t.aliceNew.userId;
    for (const [name, roomId] of Object.entries(t.rooms)) {
        const [onA, onB] = await Promise.all([serverState(t.adminA, roomId), serverState(t.adminB, roomId)]);
        if (membership(onA, old) !== "leave" && membership(onB, old) !== "leave") continue;
        if (!onA && !onB) problems.push(`${name}: the old account left, and neither server is in the room any more`);
        // Every server still in the room must show the new account in the old account's place.
        for (const [server, state] of [
            ["A", onA],
            ["B", onB],
        ] as const) {
            if (!state) continue;
            if (membership(state, neu) !== "join")
                problems.push(
                    `${name}: the old account left, but on server ${server} the new account is ${membership(state, neu) ?? "not in the room"}`,
                );
            const [oldLevel, newLevel] = [level(state, old) ?? 0, level(state, neu) ?? 0];
            if (newLevel < oldLevel)
                problems.push(
                    `${name}: the old account left, but on server ${server} the new account has level ${newLevel} < ${oldLevel}`,
                );
        }
        if (isEncrypted(onA ?? onB)) {
            const missing = await keysMissing(t, roomId);
            if (missing)
                problems.push(
                    `${name}: the old account left, but ${missing} key(s) of the old backup are not in the new backup`,
                );
        }
    }
    return problems;
}
