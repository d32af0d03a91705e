/**
 * The steps that move one room, each safe to run again: it first looks at live state and does nothing when the
 * work is already done. Order: invite (only if needed) → set power level → join (with `via`) → confirm membership and
 * level → room account data → [keys] → leave (opt-in, gated) → "moved" note (opt-in).
 */
import { isMatrixRequestError, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import type { MigrationContext } from "./context.ts";
import { nowSeconds } from "./journal.ts";
import type { RoomPlan } from "./plan.ts";

export type RoomOutcome = "migrated" | "already" | "needs-action" | "skipped" | "failed";

export interface RoomResult {
    roomId: string;
    name: string;
    kind: RoomPlan["kind"];
    outcome: RoomOutcome;
    reason: string;
    adminMessage?: string;
    /** What ran (or, in a dry run, would run). */
    steps: string[];
    /** The new account's level as read back from the room. */
    confirmedPowerLevel?: number;
    invited: boolean;
    left: boolean;
}

/**
 * The new account's membership in a room, read now. From the old side (a member) a missing event means none; from
 * the new side "none" also covers not being allowed to read a room it is not in.
 */
async function liveMembership(ctx: MigrationContext, from: "old" | "new", roomId: string): Promise<string | undefined> {
    const side = from === "old" ? ctx.sides.old : ctx.sides.new;
    const path = `/rooms/${seg(roomId)}/state/m.room.member/${seg(ctx.sides.new.userId)}`;
    const read = ctx.read<{ membership?: string }>(from === "old" ? "old:read" : "new:read", side, path);
    const none: { membership?: string } = {};
    const member = await (from === "old" ? orIfNotFound(read, none) : read.catch(() => none));
    return member.membership;
}

function isAlreadyInRoom(e: unknown): boolean {
    return isMatrixRequestError(e) && e.httpStatus === 403 && /already (in|joined)/i.test(e.serverMessage ?? "");
}

export async function inviteNewAccount(ctx: MigrationContext, room: RoomPlan): Promise<boolean> {
    const { old, new: neu } = ctx.sides;
    // Live check: a resumed run must not spend an invite twice.
    const membership = await liveMembership(ctx, "old", room.roomId);
    if (membership === "invite" || membership === "join") return false;
    ctx.progress("invite", `Inviting ${neu.userId} to ${room.name}`, room);
    // History sharing on invite only covers rooms whose history new members may see.
    const shareHistory = old.inviteSharingHistory && room.encrypted && (room.historyVisibility === "shared" || room.historyVisibility === "world_readable");
    try {
        if (shareHistory) await ctx.writeWith("old:invite", () => old.inviteSharingHistory!(room.roomId, neu.userId));
        else await ctx.write("old:invite", old, "POST", `/rooms/${seg(room.roomId)}/invite`, { body: { user_id: neu.userId } });
    } catch (e) {
        if (!isAlreadyInRoom(e)) throw e;
        return false;
    }
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).i = nowSeconds()));
    return !ctx.dryRun;
}

/** Returns whether it changed anything. */
export async function raisePowerLevel(ctx: MigrationContext, room: RoomPlan, level: number): Promise<boolean> {
    const { old, new: neu } = ctx.sides;
    // Read-modify-write on fresh state: the event replaces the whole map, so a stale copy would undo others' changes.
    const content = await ctx.read<Record<string, unknown>>("old:read", old, `/rooms/${seg(room.roomId)}/state/m.room.power_levels/`);
    const users = { ...((content.users ?? {}) as Record<string, number>) };
    const usersDefault = typeof content.users_default === "number" ? content.users_default : 0;
    if ((users[neu.userId] ?? usersDefault) >= level) return false;
    ctx.progress("power", `Giving ${neu.userId} power level ${level} in ${room.name}`, room);
    users[neu.userId] = level;
    await ctx.write("old:state", old, "PUT", `/rooms/${seg(room.roomId)}/state/m.room.power_levels/`, { body: { ...content, users } });
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).p = level));
    return true;
}

/** Returns whether it joined (false: the new account was in already). */
export async function joinNewAccount(ctx: MigrationContext, room: RoomPlan): Promise<boolean> {
    // Live check: the plan comes from the old account's view, which can lag behind a join made a moment ago.
    if ((await liveMembership(ctx, "new", room.roomId)) === "join") return false;
    ctx.progress("join", `${ctx.sides.new.userId} joins ${room.name}`, room);
    await ctx.write("new:join", ctx.sides.new, "POST", `/join/${seg(room.roomId)}`, {
        query: { server_name: room.via, via: room.via },
        body: {},
    });
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).j = nowSeconds()));
    return true;
}

export async function knockNewAccount(ctx: MigrationContext, room: RoomPlan): Promise<void> {
    ctx.progress("knock", `${ctx.sides.new.userId} knocks on ${room.name}`, room);
    await ctx.write("new:join", ctx.sides.new, "POST", `/knock/${seg(room.roomId)}`, {
        query: { server_name: room.via, via: room.via },
        body: { reason: `${ctx.sides.old.userId} is moving to this account` },
    });
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).k = nowSeconds()));
}

/** Reads back, as the new account, that it is joined and holds at least the planned level. */
export async function confirmMembership(ctx: MigrationContext, room: RoomPlan): Promise<{ joined: boolean; level: number }> {
    const neu = ctx.sides.new;
    const check = async () => {
        if ((await liveMembership(ctx, "new", room.roomId)) !== "join") return { joined: false, level: 0 };
        const pl = await ctx
            .read<Record<string, unknown>>("new:read", neu, `/rooms/${seg(room.roomId)}/state/m.room.power_levels/`)
            .catch(() => ({}) as Record<string, unknown>);
        const users = (pl.users ?? {}) as Record<string, number>;
        const level = users[neu.userId] ?? (typeof pl.users_default === "number" ? pl.users_default : 0);
        return { joined: true, level };
    };
    const wanted = room.targetPowerLevel ?? 0;
    // A power change made just before the join can reach the new server a moment after it: look again briefly.
    const result = await ctx.scheduler.poll(check, (r) => r.joined && r.level >= wanted, 10_000);
    ctx.journal.update((j) => {
        if (result.joined) (j.rooms[room.roomId] ??= {}).c = result.level;
    });
    return result;
}

/** Favourites, low priority, custom tags, and other room-level account data; only what the new account lacks. */
export async function copyRoomAccountData(ctx: MigrationContext, room: RoomPlan): Promise<number> {
    const neu = ctx.sides.new;
    const userRoom = `/user/${seg(neu.userId)}/rooms/${seg(room.roomId)}`;
    const same = (current: unknown, wanted: unknown) => current !== undefined && JSON.stringify(current) === JSON.stringify(wanted ?? {});
    let copied = 0;
    for (const [type, content] of Object.entries(room.roomAccountData)) {
        if (type === "m.tag") {
            const wanted = (content.tags ?? {}) as Record<string, Record<string, unknown>>;
            if (!Object.keys(wanted).length) continue;
            const { tags: current = {} } = await ctx.read<{ tags?: Record<string, unknown> }>("new:read", neu, `${userRoom}/tags`);
            for (const [tag, tagContent] of Object.entries(wanted)) {
                if (same(current[tag], tagContent)) continue;
                await ctx.write("new:accountData", neu, "PUT", `${userRoom}/tags/${seg(tag)}`, { body: tagContent ?? {} });
                copied++;
            }
        } else {
            const current = await ctx.read<Record<string, unknown>>("new:read", neu, `${userRoom}/account_data/${seg(type)}`).catch(() => undefined);
            if (same(current, content)) continue;
            await ctx.write("new:accountData", neu, "PUT", `${userRoom}/account_data/${seg(type)}`, { body: content });
            copied++;
        }
    }
    if (copied) ctx.progress("room-data", `Copied ${copied} tag(s) and room settings for ${room.name}`, room);
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).t = nowSeconds()));
    return copied;
}

/**
 * Whether the old account may leave: the journal must show the new account joined with at least the old level
 * (or a room that needs no level), the room's keys handed over, and nothing that blocks leaving.
 */
export function leaveGate(ctx: MigrationContext, room: RoomPlan): { open: boolean; why?: string } {
    const entry = ctx.journal.journal.rooms[room.roomId] ?? {};
    if (entry.c === undefined) return { open: false, why: "the new account's membership is not confirmed yet" };
    const blocker = room.blockers.find((b) => b.blocks === "leave" || b.blocks === "power");
    if (blocker) return { open: false, why: blocker.reason };
    const needed = room.targetPowerLevel ?? 0;
    if (entry.c < needed) return { open: false, why: `the new account has level ${entry.c}, not ${needed}` };
    if (room.encrypted && entry.keys === undefined) return { open: false, why: "this room's keys have not been handed over" };
    return { open: true };
}

export async function leaveOldRoom(ctx: MigrationContext, room: RoomPlan): Promise<void> {
    ctx.progress("leave", `The old account leaves ${room.name}`, room);
    await ctx.write("old:leave", ctx.sides.old, "POST", `/rooms/${seg(room.roomId)}/leave`, { body: {} });
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).l = nowSeconds()));
}

export async function sendMovedNote(ctx: MigrationContext, room: RoomPlan): Promise<void> {
    const { old, new: neu } = ctx.sides;
    ctx.progress("dm-note", `Telling ${room.dmPartners.join(", ")} about the move`, room);
    // A fixed transaction id: if a crash hides that it was sent, the server drops the repeat.
    const txn = `account-migration-note-${neu.userId.replace(/[^A-Za-z0-9]/g, "_")}`;
    await ctx.write("old:message", old, "PUT", `/rooms/${seg(room.roomId)}/send/m.room.message/${seg(txn)}`, {
        body: { msgtype: "m.notice", body: `I have moved to a new account: ${neu.userId}. Please reach me there from now on.` },
    });
    ctx.journal.update((j) => ((j.rooms[room.roomId] ??= {}).n = nowSeconds()));
}
