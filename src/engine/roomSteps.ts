/**
 * The steps that move one room, each safe to run again: it first looks at live state and does nothing when the
 * work is already done. Order: invite (only if needed) → set power level → join (with `via`) → confirm membership and
 * level → room account data → [keys] → "moved" note (opt-in) → leave (opt-in, behind the gate in leaveGate.ts).
 * roomPipeline.ts strings them together for one room.
 */
import { isMatrixRequestError, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import { isNeverCopied } from "./accountDataPolicy.ts";
import type { MigrationContext } from "./context.ts";
import type { HistoryAudit } from "./history.ts";
import { nowSeconds } from "./journal.ts";
import type { RoomPlan } from "./plan.ts";
import type { Reason } from "./reasons.ts";

export type RoomOutcome = "migrated" | "already" | "needs-action" | "skipped" | "failed";

export interface RoomResult {
    roomId: string;
    name: string;
    kind: RoomPlan["kind"];
    outcome: RoomOutcome;
    /** Why, for the UI to word in the user's language: the outcome's reason, then anything else to know (e.g. why the old account stayed). */
    reasons: Reason[];
    /** The same in English (CLI, JSON report). */
    reason: string;
    adminMessage?: string;
    /** What ran (or, in a dry run, would run). */
    steps: string[];
    /** The new account's level as read back from the room. */
    confirmedPowerLevel?: number;
    invited: boolean;
    /** The new account's membership was confirmed (whatever else still needs action). */
    newAccountJoined: boolean;
    left: boolean;
    /** The history audit (history.ts), made once the new account was confirmed in the room. */
    history?: HistoryAudit;
}

/**
 * The new account's membership in a room, read now. From the old side (a member) a missing event means none; from
 * the new side "none" also covers not being allowed to read a room it is not in.
 */
export async function liveMembership(
    ctx: MigrationContext,
    from: "old" | "new",
    roomId: string,
): Promise<string | undefined> {
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
    const shareHistory =
        old.inviteSharingHistory &&
        room.encrypted &&
        (room.historyVisibility === "shared" || room.historyVisibility === "world_readable");
    try {
        if (shareHistory) await ctx.writeWith("old:invite", () => old.inviteSharingHistory!(room.roomId, neu.userId));
        else
            await ctx.write("old:invite", old, "POST", `/rooms/${seg(room.roomId)}/invite`, {
                body: { user_id: neu.userId },
            });
    } catch (e) {
        if (!isAlreadyInRoom(e)) throw e;
        return false;
    }
    ctx.journal.markRoom(room.roomId, { i: nowSeconds() });
    return !ctx.dryRun;
}

/** Returns whether it changed anything. */
export async function raisePowerLevel(ctx: MigrationContext, room: RoomPlan, level: number): Promise<boolean> {
    const { old, new: neu } = ctx.sides;
    // Read-modify-write on fresh state: the event replaces the whole map, so a stale copy would undo others' changes.
    const content = await ctx.read<Record<string, unknown>>(
        "old:read",
        old,
        `/rooms/${seg(room.roomId)}/state/m.room.power_levels/`,
    );
    const users = { ...((content.users ?? {}) as Record<string, number>) };
    const usersDefault = typeof content.users_default === "number" ? content.users_default : 0;
    if ((users[neu.userId] ?? usersDefault) >= level) return false;
    ctx.progress("power", `Giving ${neu.userId} power level ${level} in ${room.name}`, room);
    users[neu.userId] = level;
    await ctx.write("old:state", old, "PUT", `/rooms/${seg(room.roomId)}/state/m.room.power_levels/`, {
        body: { ...content, users },
    });
    ctx.journal.markRoom(room.roomId, { p: level });
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
    ctx.journal.markRoom(room.roomId, { j: nowSeconds() });
    return true;
}

export async function knockNewAccount(ctx: MigrationContext, room: RoomPlan): Promise<void> {
    ctx.progress("knock", `${ctx.sides.new.userId} knocks on ${room.name}`, room);
    await ctx.write("new:join", ctx.sides.new, "POST", `/knock/${seg(room.roomId)}`, {
        query: { server_name: room.via, via: room.via },
        body: { reason: `${ctx.sides.old.userId} is moving to this account` },
    });
    ctx.journal.markRoom(room.roomId, { k: nowSeconds() });
}

/**
 * Reads back, as the new account, that it is joined and holds at least `wanted` — the planned level, or 0 where the
 * plan knows the old account cannot set it (then only the membership is waited for).
 */
export async function confirmMembership(
    ctx: MigrationContext,
    room: RoomPlan,
    wanted: number,
): Promise<{ joined: boolean; level: number }> {
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
    // A power change made just before the join can reach the new server a moment after it: look again briefly.
    const result = await ctx.scheduler.poll(check, (r) => r.joined && r.level >= wanted, 10_000);
    if (result.joined) ctx.journal.markRoom(room.roomId, { c: result.level });
    return result;
}

/**
 * Favourites, low priority and custom tags, plus the room-level settings the user ticked; only what the new account
 * lacks. The deny list is checked again here, at the moment of writing.
 */
export async function copyRoomAccountData(ctx: MigrationContext, room: RoomPlan): Promise<number> {
    const neu = ctx.sides.new;
    const userRoom = `/user/${seg(neu.userId)}/rooms/${seg(room.roomId)}`;
    const same = (current: unknown, wanted: unknown) =>
        current !== undefined && JSON.stringify(current) === JSON.stringify(wanted ?? {});
    const ticked = new Set(
        ctx.plan.optionalAccountData.filter((o) => o.scope === "room" && o.selected).map((o) => o.type),
    );
    let copied = 0;
    for (const [type, content] of Object.entries(room.roomAccountData)) {
        if (isNeverCopied(type) || (type !== "m.tag" && !ticked.has(type))) continue;
        if (type === "m.tag") {
            const wanted = (content.tags ?? {}) as Record<string, Record<string, unknown>>;
            if (!Object.keys(wanted).length) continue;
            const { tags: current = {} } = await ctx.read<{ tags?: Record<string, unknown> }>(
                "new:read",
                neu,
                `${userRoom}/tags`,
            );
            for (const [tag, tagContent] of Object.entries(wanted)) {
                if (same(current[tag], tagContent)) continue;
                await ctx.write("new:accountData", neu, "PUT", `${userRoom}/tags/${seg(tag)}`, {
                    body: tagContent ?? {},
                });
                copied++;
            }
        } else {
            const current = await ctx
                .read<Record<string, unknown>>("new:read", neu, `${userRoom}/account_data/${seg(type)}`)
                .catch(() => undefined);
            if (same(current, content)) continue;
            await ctx.write("new:accountData", neu, "PUT", `${userRoom}/account_data/${seg(type)}`, { body: content });
            copied++;
        }
    }
    if (copied) ctx.progress("room-data", `Copied ${copied} tag(s) and room settings for ${room.name}`, room);
    ctx.journal.markRoom(room.roomId, { t: nowSeconds() });
    return copied;
}

export async function leaveOldRoom(ctx: MigrationContext, room: RoomPlan): Promise<void> {
    ctx.progress("leave", `The old account leaves ${room.name}`, room);
    await ctx.write("old:leave", ctx.sides.old, "POST", `/rooms/${seg(room.roomId)}/leave`, { body: {} });
    ctx.journal.markRoom(room.roomId, { l: nowSeconds() });
}

/**
 * The short "I have moved" note in a direct chat. In an encrypted room it goes only through a session that encrypts
 * (Element's client): never as plain text into an encrypted conversation. Returns whether it was sent.
 */
export async function sendMovedNote(ctx: MigrationContext, room: RoomPlan): Promise<boolean> {
    const { old, new: neu } = ctx.sides;
    if (room.encrypted && !old.sendMessage) return false;
    // A fixed transaction id: if a crash hides that it was sent, the server drops the repeat — from the same session.
    // A run resumed from another session (the CLI signs in anew) looks at the room instead: the note is plain text
    // there, since only a session that encrypts posts into encrypted rooms.
    const txn = `account-migration-note-${neu.userId.replace(/[^A-Za-z0-9]/g, "_")}`;
    const content = {
        msgtype: "m.notice",
        body: `I have moved to a new account: ${neu.userId}. Please reach me there from now on.`,
    };
    if (!old.sendMessage && (await noteAlreadySent(ctx, room, content.body))) {
        ctx.journal.markRoom(room.roomId, { n: nowSeconds() });
        return true;
    }
    ctx.progress("dm-note", `Telling ${room.dmPartners.join(", ")} about the move`, room);
    if (old.sendMessage) await ctx.writeWith("old:message", () => old.sendMessage!(room.roomId, content, txn));
    else
        await ctx.write("old:message", old, "PUT", `/rooms/${seg(room.roomId)}/send/m.room.message/${seg(txn)}`, {
            body: content,
        });
    ctx.journal.markRoom(room.roomId, { n: nowSeconds() });
    return true;
}

/** Whether the old account's latest messages in the room already include this note (read back, not remembered). */
async function noteAlreadySent(ctx: MigrationContext, room: RoomPlan, body: string): Promise<boolean> {
    const filter = JSON.stringify({ types: ["m.room.message"], senders: [ctx.sides.old.userId] });
    const page = await ctx.read<{ chunk?: Array<{ content?: { msgtype?: string; body?: string } }> }>(
        "old:read",
        ctx.sides.old,
        `/rooms/${seg(room.roomId)}/messages`,
        {
            query: { dir: "b", limit: 50, filter },
        },
    );
    return (page.chunk ?? []).some((e) => e.content?.msgtype === "m.notice" && e.content.body === body);
}
