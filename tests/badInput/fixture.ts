/**
 * What the bad-input table (cases.ts) works on, and how it proves nothing changed:
 * - `buildBadInputAccount`: the trial account (real encrypted history, key backups and recovery on both sides) plus a
 *   room of each kind that cannot move (no right to invite, the new account banned, a server ACL, `m.federate: false`,
 *   a tombstoned room), a room version 12 room the old account created (a creator's power stays with it), and what a
 *   hostile room admin makes (issue 15): a room named in Markdown, and one whose server ACL has backtracking globs;
 * - `smallAccount`: an old account with a few public rooms, for runs that must be cut short or run twice;
 * - the proofs, read from the servers: each room's state before and after (`roomState`, `stateChanges`), the key
 *   backups (`installBackupVersion`), the tool's sessions in the device lists (`toolSessions`).
 */
import { MEGOLM_BACKUP_ALGORITHM } from "../../src/keys/backupCrypto.ts";
import { seg } from "../../src/sessions/matrixHttp.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import {
    type Actor,
    BACKTRACKING_GLOBS,
    type BlockedRooms,
    createBlockedRooms,
    createRoom,
    join,
    sessionFor,
} from "../support/scenario.ts";
import type { MigratedAccount } from "../proof/migrationState.ts";
import { type TrialAccount, buildTrialAccount } from "../proof/trialAccount.ts";

export interface BadInputAccount extends TrialAccount {
    blocked: BlockedRooms & {
        /** Room version 12, created by the old account: it moves, but the old account stays its creator. */
        creatorOnly: string;
        /**
         * bob's room named in Markdown (MARKDOWN_ROOM_NAME), where the old account may not invite: the report lists it
         * and quotes its name in the message for an admin.
         */
        markdownName: string;
    };
    /** The old account's room whose server ACL denies backtracking globs (and a name no server has): it moves. */
    hostileAcl: string;
}

/** A room name a room admin wrote to restyle the report: a line break, a heading and a link. */
export const MARKDOWN_ROOM_NAME = "Room\n# Injected heading\n[click here](https://evil.example)";
export const HOSTILE_ACL_ROOM_NAME = "Backtracking globs";

export async function buildBadInputAccount(bed: BedDescription): Promise<BadInputAccount> {
    const t = await buildTrialAccount(bed);
    const markdownName = await createRoom(t.bob, {
        name: MARKDOWN_ROOM_NAME,
        preset: "private_chat",
        room_version: "10",
        invite: [t.alice.userId],
        power_level_content_override: { invite: 50 },
    });
    await join(t.alice, markdownName);
    const blocked = {
        ...(await createBlockedRooms(bed, t.alice, t.bob, t.aliceNew.userId)),
        creatorOnly: await createRoom(t.alice, { name: "Alice's club", preset: "private_chat", room_version: "12" }),
        markdownName,
    };
    const hostileAcl = await createRoom(t.alice, {
        name: HOSTILE_ACL_ROOM_NAME,
        preset: "private_chat",
        room_version: "10",
        initial_state: [
            {
                type: "m.room.server_acl",
                state_key: "",
                content: { allow: ["*"], deny: [...BACKTRACKING_GLOBS, "evil.example"], allow_ip_literals: true },
            },
        ],
    });
    return { ...t, rooms: { ...t.rooms, ...blocked, hostileAcl }, blocked, hostileAcl };
}

/** Each server's admin, and a user registered on a server (with its password and a session). */
async function registered(hs: BedDescription["a"], prefix: string, admin = false): Promise<Actor> {
    const user = await registerUser(hs, uniqueLocalpart(prefix), { admin });
    return sessionFor(hs, user);
}

export interface SmallAccount extends MigratedAccount {
    /** The rooms by name ("Public 1", …), all public and in room version 10 (the old account may leave them). */
    rooms: Record<string, string>;
}

/** An old account on A with `count` public rooms it created, an empty new account on B, and both servers' admins. */
export async function smallAccount(bed: BedDescription, count: number): Promise<SmallAccount> {
    const [alice, aliceNew, adminA, adminB] = await Promise.all([
        registered(bed.a, "alice"),
        registered(bed.b, "alice-new"),
        registered(bed.a, "admin", true),
        registered(bed.b, "admin", true),
    ]);
    const rooms: Record<string, string> = {};
    for (let i = 1; i <= count; i++)
        rooms[`Public ${i}`] = await createRoom(alice, {
            name: `Public ${i}`,
            preset: "public_chat",
            room_version: "10",
        });
    return { alice, aliceNew, adminA, adminB, rooms };
}

/** A room's current state as a server holds it (through its admin API): "type|state_key" → event id. */
export async function roomState(admin: Actor, roomId: string): Promise<Record<string, string>> {
    const { state } = await admin.http.request<{
        state: Array<{ type: string; state_key: string; event_id: string }>;
    }>("GET", `/rooms/${seg(roomId)}/state`, { prefix: "/_synapse/admin/v1" });
    return Object.fromEntries(state.map((e) => [`${e.type}|${e.state_key}`, e.event_id]));
}

/** The state entries ("type|state_key") added, removed or replaced between two snapshots, sorted. */
export function stateChanges(before: Record<string, string>, after: Record<string, string>): string[] {
    return [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((key) => before[key] !== after[key])
        .sort();
}

/** The sessions this tool made (by their device names) that a user still has, as the server's admin lists them. */
export async function toolSessions(admin: Actor, userId: string): Promise<string[]> {
    const { devices } = await admin.http.request<{ devices: Array<{ device_id: string; display_name?: string }> }>(
        "GET",
        `/users/${seg(userId)}/devices`,
        { prefix: "/_synapse/admin/v2" },
    );
    return devices
        .filter((d) => /^Account migration \((CLI|Element)\)$/.test(d.display_name ?? ""))
        .map((d) => `${d.display_name} ${d.device_id}`);
}

export interface InstalledBackup {
    version: string;
    /** Sessions the server holds in this backup version (read back from the server). */
    sessions(): Promise<number>;
    /** Deletes this version: the account's previous backup is its current one again. */
    remove(): Promise<void>;
}

/**
 * A key backup whose public key nobody holds the private key of: what a malicious server could put in place of the
 * account's own.
 */
export const FOREIGN_BACKUP = {
    algorithm: MEGOLM_BACKUP_ALGORITHM,
    auth_data: { public_key: "qmBDXqMTmV3qAvF9EXhiETxyHW3OSrgh4ExcEQMrnBc" },
};

/**
 * Puts a new key backup version in place for `owner` (it becomes the current one), as another client — or a malicious
 * server — could: with a key the account's recovery key does not vouch for, or a malformed description.
 */
export async function installBackupVersion(
    owner: Actor,
    description: { algorithm: string; auth_data: Record<string, unknown> },
): Promise<InstalledBackup> {
    const { version } = await owner.http.request<{ version: string }>("POST", "/room_keys/version", {
        body: description,
    });
    return {
        version,
        async sessions() {
            const { rooms } = await owner.http.request<{ rooms: Record<string, { sessions: object }> }>(
                "GET",
                "/room_keys/keys",
                { query: { version } },
            );
            return Object.values(rooms).reduce((n, r) => n + Object.keys(r.sessions).length, 0);
        },
        async remove() {
            await owner.http.request("DELETE", `/room_keys/version/${seg(version)}`);
        },
    };
}

/**
 * The sessions a run hands over now: those the old account's backup holds for rooms the old account is still in (as
 * its server says; a room it has left is no longer part of a migration).
 */
export async function oldBackupSessionsInJoinedRooms(t: TrialAccount): Promise<number> {
    const { version } = await t.alice.http.request<{ version: string }>("GET", "/room_keys/version");
    const { rooms } = await t.alice.http.request<{ rooms: Record<string, { sessions: object }> }>(
        "GET",
        "/room_keys/keys",
        { query: { version } },
    );
    let count = 0;
    for (const [roomId, { sessions }] of Object.entries(rooms)) {
        const member = await t.alice.http
            .request<{ membership?: string }>("GET", `/rooms/${seg(roomId)}/state/m.room.member/${seg(t.alice.userId)}`)
            .catch(() => ({ membership: undefined }));
        if (member.membership === "join") count += Object.keys(sessions).length;
    }
    return count;
}
