/**
 * Planning: from the old account's snapshot, decide for every room how the new account gets in (with the fewest
 * invites), what power level it should get, and what stops it — with a plain reason and, where someone else must act,
 * a message the user can send to a room admin. The plan is plain data: the UI shows it and the user trims it.
 */
import {
    HANDLED_TYPES,
    isNeverCopied,
    optionalAccountDataTypes,
    accountDataLabel,
    roomAccountDataLabel,
} from "./accountDataPolicy.ts";
import { CREATOR, canGrantLevel, powerLevelsOf } from "./powerLevels.ts";
import { aclAllowsServer } from "./serverAcl.ts";
import { type AccountSnapshot, RoomState } from "./snapshot.ts";
import { serverNameOf } from "./userId.ts";
import type { HiddenHistory } from "./history.ts";
import { type TranslationKey, englishTranslate, hasTranslation } from "../i18n/index.ts";

export type RoomKind = "dm" | "space" | "public" | "group";
/** How the new account gets in: join directly, be invited first, knock, or nothing to do. */
export type Route = "join" | "invite" | "knock" | "none";

export type BlockerCode =
    | "old-cannot-invite"
    | "old-cannot-set-power"
    | "new-banned"
    | "server-acl-denies"
    | "not-federated"
    | "creator-power"
    | "tombstoned"
    | "hidden-history";

export interface Blocker {
    code: BlockerCode;
    /** Names the message in the translations (`blocker|…`, and `admin|…` when there is a message for an admin). */
    messageKey: BlockerMessageKey;
    /** Values for the message (room, newUser, oldUser, level, server, …). */
    params: Record<string, string | number>;
    /** What it means for the user, in plain language. */
    reason: string;
    /** A message the user can send to a room admin, when someone else can fix it. */
    adminMessage?: string;
    /** What it stops: the whole room, only the power level, or only leaving the old room. */
    blocks: "room" | "power" | "leave";
}

export interface RoomPlan {
    roomId: string;
    name: string;
    kind: RoomKind;
    encrypted: boolean;
    /** For direct chats: the other people, from the old account's m.direct. */
    dmPartners: string[];
    route: Route;
    /** A space the new account must be in before this (restricted) room lets it join. */
    joinAfterSpace?: string;
    /** Servers to join through. */
    via: string[];
    /** The old account's level (Infinity for a creator). */
    oldPowerLevel: number;
    /** The level to give the new account, or null when the room's default is enough. */
    targetPowerLevel: number | null;
    /** The new account's membership and level right now. */
    newMembership?: string;
    newPowerLevel: number;
    status: "ready" | "already" | "blocked" | "replaced";
    blockers: Blocker[];
    /** For a tombstoned room: the room that replaced it. */
    successorRoomId?: string;
    /** Room-level account data to copy (m.tag first), by type. */
    roomAccountData: Record<string, Record<string, unknown>>;
    historyVisibility: string;
    /** What a newcomer won't see of this room's history (read by previewPlanHistory; undefined: nothing, or not read). */
    hiddenHistory?: HiddenHistory;
    selected: boolean;
}

/** Whether the run works on this room when chosen: it can move, or the new account is already in it. */
export function isMovable(room: Pick<RoomPlan, "status">): boolean {
    return room.status === "ready" || room.status === "already";
}

export interface PendingInvite {
    roomId: string;
    name: string;
    inviter?: string;
}

export interface OptionalAccountData {
    type: string;
    /** Account-wide, or room-level (then copied for every room that has it; tags are always carried, not listed). */
    scope: "account" | "room";
    label: string;
    selected: boolean;
}

export interface MigrationOptions {
    /** Leave each old room once the new account is confirmed in it (and its keys are handed over). */
    leaveOldRooms: boolean;
    /** Old display name gains "(moved to @new)", and each direct chat gets a short note. */
    movedNotice: boolean;
    /** Also copy changes the user made to the server's default notification rules (off: defaults untouched). */
    copyDefaultPushRuleChanges: boolean;
    /**
     * Rooms the old account may leave although the audit finds messages the new account cannot see or cannot decrypt
     * (messages the room hides from newcomers, keys not in the new backup): losses the user saw named and accepted
     * explicitly. Empty by default. (The name is from when it covered keys only.)
     */
    acceptMissingKeys: string[];
}

export interface MigrationPlan {
    oldUserId: string;
    newUserId: string;
    rooms: RoomPlan[];
    pendingInvites: PendingInvite[];
    optionalAccountData: OptionalAccountData[];
    options: MigrationOptions;
}

export const DEFAULT_OPTIONS: MigrationOptions = {
    leaveOldRooms: false,
    movedNotice: false,
    copyDefaultPushRuleChanges: false,
    acceptMissingKeys: [],
};

/** Rooms of these types are per-account machinery, not conversations. */
const SKIPPED_ROOM_TYPES = new Set(["m.server_notice"]);

function quoteRoom(room: { name: string; roomId: string }): string {
    return room.name === room.roomId ? room.roomId : `“${room.name}” (${room.roomId})`;
}

type BlockerSuffix<K> = K extends `blocker|${infer Rest}` ? Rest : never;
type BlockerMessageKey = BlockerSuffix<TranslationKey>;

/** A blocker whose words come from the translations, so the CLI (English) and Element (any language) say the same. */
function makeBlocker(
    code: BlockerCode,
    blocks: Blocker["blocks"],
    messageKey: BlockerMessageKey,
    params: Record<string, string | number>,
): Blocker {
    const adminKey = `admin|${messageKey}` as TranslationKey;
    return {
        code,
        blocks,
        messageKey,
        params,
        reason: englishTranslate(`blocker|${messageKey}` as TranslationKey, params),
        ...(hasTranslation(adminKey) ? { adminMessage: englishTranslate(adminKey, params) } : {}),
    };
}

function directRoomPartners(snapshot: AccountSnapshot): Map<string, string[]> {
    const partners = new Map<string, string[]>();
    const direct = snapshot.accountData["m.direct"] ?? {};
    for (const [partner, rooms] of Object.entries(direct)) {
        if (!Array.isArray(rooms)) continue;
        for (const roomId of rooms) {
            if (typeof roomId !== "string") continue;
            partners.set(roomId, [...(partners.get(roomId) ?? []), partner]);
        }
    }
    return partners;
}

/** Servers to join through: the old account's own (it is in the room), the creator's, then the busiest ones. */
function viaServers(room: RoomState, oldServer: string): string[] {
    const counts = new Map<string, number>();
    for (const member of room.joinedMembers) {
        const server = serverNameOf(member);
        counts.set(server, (counts.get(server) ?? 0) + 1);
    }
    const creator = room.get("m.room.create")?.sender;
    const ordered = [
        oldServer,
        ...(creator ? [serverNameOf(creator)] : []),
        ...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([s]) => s),
    ];
    return [...new Set(ordered)].slice(0, 3);
}

/** The server a room "belongs" to, for m.federate: false (its creator's server). */
function originServer(room: RoomState): string | undefined {
    const creator = room.get("m.room.create")?.sender;
    return creator ? serverNameOf(creator) : undefined;
}

/** What planning a room needs to know beyond the room: who moves where, and the old account's direct chats. */
interface PlanInputs {
    oldUserId: string;
    newUserId: string;
    oldServer: string;
    newServer: string;
    dmPartners: Map<string, string[]>;
    joinedById: Map<string, RoomState>;
}

/**
 * The plan, in phases: each joined room on its own (planRoom), then the routes through spaces that spare invites,
 * then the order rooms are shown and started in, then the account data a person may choose to copy.
 */
export function buildPlan(
    snapshot: AccountSnapshot,
    newUserId: string,
    options: Partial<MigrationOptions> = {},
): MigrationPlan {
    const oldUserId = snapshot.userId;
    const joined = snapshot.rooms.filter((r) => r.membership === "join").map((r) => new RoomState(r));
    const who: PlanInputs = {
        oldUserId,
        newUserId,
        oldServer: serverNameOf(oldUserId),
        newServer: serverNameOf(newUserId),
        dmPartners: directRoomPartners(snapshot),
        joinedById: new Map(joined.map((r) => [r.source.roomId, r])),
    };

    const rooms: RoomPlan[] = [];
    for (const room of joined) {
        const createContent = room.content("m.room.create") ?? {};
        if (SKIPPED_ROOM_TYPES.has(String(createContent.type))) continue;
        rooms.push(planRoom(room, who));
    }
    routeThroughSpaces(rooms, who.joinedById);
    orderRooms(rooms);
    return {
        oldUserId,
        newUserId,
        rooms,
        pendingInvites: pendingInvitesOf(snapshot),
        optionalAccountData: optionalAccountDataOf(snapshot, rooms),
        options: { ...DEFAULT_OPTIONS, ...options },
    };
}

/** The rooms the old account is invited to (not moved: listed so the person can answer them). */
function pendingInvitesOf(snapshot: AccountSnapshot): PendingInvite[] {
    const oldUserId = snapshot.userId;
    return snapshot.rooms
        .filter(
            (r) =>
                r.membership === "invite" &&
                !SKIPPED_ROOM_TYPES.has(String(new RoomState(r).content("m.room.create")?.type)),
        )
        .map((r) => {
            const state = new RoomState(r);
            return { roomId: r.roomId, name: state.name, inviter: state.get("m.room.member", oldUserId)?.sender };
        });
}

/**
 * Restricted rooms: join through a space the new account is (or will be) in, instead of spending an invite.
 * Repeated until nothing changes, since a space can itself be restricted to its parent (Element's default for
 * subspaces); a chain that comes back to the room it started from is no way in.
 */
function routeThroughSpaces(rooms: RoomPlan[], joinedById: Map<string, RoomState>): void {
    const byId = new Map(rooms.map((r) => [r.roomId, r]));
    const spaceWillBeJoined = (spaceId: string, forRoomId: string): boolean => {
        const seen = new Set([forRoomId]);
        let current = byId.get(spaceId);
        while (current) {
            if (seen.has(current.roomId)) return false;
            seen.add(current.roomId);
            // A knock may never be answered, so it does not count as being in.
            if (!current.selected || current.route === "knock" || !isMovable(current)) return false;
            if (!current.joinAfterSpace) return true;
            current = byId.get(current.joinAfterSpace);
        }
        return false;
    };
    for (let changed = true; changed;) {
        changed = false;
        for (const plan of rooms) {
            if (plan.joinAfterSpace) continue;
            const inviteOnlyBlocker = plan.blockers.every((b) => b.blocks !== "room" || b.code === "old-cannot-invite");
            const wouldSpendInvite =
                plan.route === "invite" ||
                plan.route === "knock" ||
                plan.blockers.some((b) => b.code === "old-cannot-invite");
            if (plan.status === "replaced" || plan.status === "already" || !inviteOnlyBlocker || !wouldSpendInvite)
                continue;
            const state = joinedById.get(plan.roomId)!;
            const joinRules = state.content("m.room.join_rules") ?? {};
            if (joinRules.join_rule !== "restricted" && joinRules.join_rule !== "knock_restricted") continue;
            const allow = Array.isArray(joinRules.allow) ? (joinRules.allow as Array<Record<string, unknown>>) : [];
            const space = allow
                .filter((a) => a.type === "m.room_membership" && typeof a.room_id === "string")
                .map((a) => a.room_id as string)
                .find((id) => spaceWillBeJoined(id, plan.roomId));
            if (space) {
                plan.route = "join";
                plan.joinAfterSpace = space;
                plan.blockers = plan.blockers.filter((b) => b.code !== "old-cannot-invite");
                if (!plan.blockers.some((b) => b.blocks === "room")) plan.status = "ready";
                changed = true;
            }
        }
    }
}

/**
 * Spaces first (their members unlock restricted rooms), parents before the spaces they open, then direct chats, then
 * the rest; by name within each.
 */
function orderRooms(rooms: RoomPlan[]): void {
    const byId = new Map(rooms.map((r) => [r.roomId, r]));
    const order: Record<RoomKind, number> = { space: 0, dm: 1, group: 2, public: 3 };
    const depth = (room: RoomPlan): number => {
        let n = 0;
        for (
            let r = room.joinAfterSpace && byId.get(room.joinAfterSpace);
            r && n < rooms.length;
            r = r.joinAfterSpace && byId.get(r.joinAfterSpace)
        )
            n++;
        return n;
    };
    const depths = new Map(rooms.map((r) => [r.roomId, depth(r)]));
    rooms.sort(
        (a, b) =>
            order[a.kind] - order[b.kind] ||
            depths.get(a.roomId)! - depths.get(b.roomId)! ||
            a.name.localeCompare(b.name),
    );
}

/** The account data a person may choose to copy: account-wide types, and room-level ones other than tags. */
function optionalAccountDataOf(snapshot: AccountSnapshot, rooms: RoomPlan[]): MigrationPlan["optionalAccountData"] {
    const globalTypes = Object.keys(snapshot.accountData);
    // Room-level settings other than tags are opt-in, like account-wide ones.
    const roomTypes = new Map<string, number>();
    for (const room of rooms)
        for (const type of Object.keys(room.roomAccountData))
            if (type !== "m.tag") roomTypes.set(type, (roomTypes.get(type) ?? 0) + 1);
    return [
        ...optionalAccountDataTypes(globalTypes).map((type) => ({
            type,
            scope: "account" as const,
            label: accountDataLabel(type),
            selected: false,
        })),
        ...[...roomTypes.keys()].sort().map((type) => ({
            type,
            scope: "room" as const,
            label: roomAccountDataLabel(type, roomTypes.get(type)!),
            selected: false,
        })),
    ];
}

/** One joined room on its own: its kind, route, the level to hand over, and what blocks it. */
function planRoom(room: RoomState, who: PlanInputs): RoomPlan {
    const { oldUserId, newUserId, oldServer, newServer, dmPartners, joinedById } = who;
    const roomId = room.source.roomId;
    const createContent = room.content("m.room.create") ?? {};
    const joinRule = String(room.content("m.room.join_rules")?.join_rule ?? "invite");
    const partners = dmPartners.get(roomId) ?? [];
    const isSpace = createContent.type === "m.space";
    const kind: RoomKind = isSpace ? "space" : partners.length ? "dm" : joinRule === "public" ? "public" : "group";
    const pl = powerLevelsOf(room);
    const oldLevel = pl.userLevel(oldUserId);
    const newMembership = room.membership(newUserId);
    const newLevel = pl.userLevel(newUserId);
    const blockers: Blocker[] = [];
    // An unnamed direct chat is known by who is in it, as clients show it.
    const displayName = room.name === roomId && partners.length ? partners.join(", ") : room.name;
    const params = {
        room: quoteRoom({ name: displayName, roomId }),
        oldUser: oldUserId,
        newUser: newUserId,
        server: newServer,
    };

    // The level to hand over: the old account's own, or for a creator (whose power cannot be handed over in
    // rooms with creators) the highest level the room uses.
    let target: number | null = oldLevel === CREATOR ? pl.highestLevel : oldLevel;
    if (oldLevel === CREATOR) {
        blockers.push(makeBlocker("creator-power", "leave", "creator-power", { ...params, level: target }));
    }
    if (target <= Math.max(pl.usersDefault, newLevel)) target = null;

    const plan: RoomPlan = {
        roomId,
        name: displayName,
        kind,
        encrypted: room.get("m.room.encryption") !== undefined,
        dmPartners: partners,
        route: "none",
        via: viaServers(room, oldServer),
        oldPowerLevel: oldLevel,
        targetPowerLevel: target,
        newMembership,
        newPowerLevel: newLevel,
        status: "ready",
        blockers,
        roomAccountData: Object.fromEntries(
            Object.entries(room.source.accountData).filter(
                ([type]) => type === "m.tag" || (!isNeverCopied(type) && !HANDLED_TYPES.has(type)),
            ),
        ),
        historyVisibility: String(room.content("m.room.history_visibility")?.history_visibility ?? "shared"),
        selected: true,
    };

    const tombstone = room.content("m.room.tombstone");
    if (tombstone && typeof tombstone.replacement_room === "string") {
        plan.status = "replaced";
        plan.successorRoomId = tombstone.replacement_room;
        const successorKnown = joinedById.has(tombstone.replacement_room);
        blockers.push(
            makeBlocker("tombstoned", "room", successorKnown ? "tombstoned-known" : "tombstoned-unknown", {
                ...params,
                successor: tombstone.replacement_room,
            }),
        );
        plan.selected = false;
        return plan;
    }

    if (newMembership === "ban") {
        blockers.push(makeBlocker("new-banned", "room", "new-banned", params));
    }
    if (createContent["m.federate"] === false && originServer(room) !== newServer) {
        blockers.push(
            makeBlocker("not-federated", "room", "not-federated", {
                ...params,
                origin: originServer(room) ?? oldServer,
            }),
        );
    }
    const acl = room.content("m.room.server_acl");
    if (!aclAllowsServer(acl, newServer)) {
        blockers.push(makeBlocker("server-acl-denies", "room", "server-acl-denies", params));
    }

    const alreadyIn = newMembership === "join";
    const levelDone = target === null;
    if (alreadyIn && levelDone) {
        plan.status = blockers.some((b) => b.blocks === "room") ? "blocked" : "already";
        return plan;
    }

    if (target !== null && !canGrantLevel(pl, oldUserId, newUserId, target)) {
        blockers.push(
            makeBlocker("old-cannot-set-power", "power", "old-cannot-set-power", { ...params, level: target }),
        );
    }

    if (alreadyIn) plan.route = "none";
    else if (newMembership === "invite" || joinRule === "public") plan.route = "join";
    else if (oldLevel >= pl.inviteLevel) plan.route = "invite";
    else if (joinRule === "knock" || joinRule === "knock_restricted") {
        plan.route = "knock";
        blockers.push(makeBlocker("old-cannot-invite", "power", "old-cannot-invite-knock", params));
    } else {
        blockers.push(makeBlocker("old-cannot-invite", "room", "old-cannot-invite", params));
    }
    if (blockers.some((b) => b.blocks === "room")) plan.status = "blocked";
    return plan;
}

/** How many invites running this plan would send (the scarce resource: see the scheduler). */
export function invitesNeeded(plan: MigrationPlan): number {
    return plan.rooms.filter((r) => r.selected && r.status === "ready" && r.route === "invite").length;
}

/**
 * Adds what the preview found to the plan: the hidden history, and a blocker saying it in words. The blocker stops
 * leaving only through the audit (leaveGate.ts), so a person can accept the named loss.
 */
export function withHiddenHistory(plan: MigrationPlan, found: ReadonlyMap<string, HiddenHistory>): MigrationPlan {
    const rooms = plan.rooms.map((room) => {
        const hidden = found.get(room.roomId);
        if (!hidden || (hidden.count === 0 && !hidden.atLeast)) return room;
        const ongoing = hidden.periods.find((p) => p.ongoing)?.visibility ?? "earlier";
        const messageKey = `hidden-history-${ongoing}${hidden.atLeast ? "-many" : ""}` as BlockerMessageKey;
        const params = { room: quoteRoom(room), count: hidden.count };
        return {
            ...room,
            hiddenHistory: hidden,
            blockers: [
                ...room.blockers.filter((b) => b.code !== "hidden-history"),
                makeBlocker("hidden-history", "leave", messageKey, params),
            ],
        };
    });
    return { ...plan, rooms };
}
