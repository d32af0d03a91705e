/** Power-level rules of the Matrix spec ("m.room.power_levels"), including room versions with creators (v12+). */
import type { RoomState } from "./snapshot.ts";

/** Room versions where the creators hold infinite power and are not in the power-level map (MSC4289). */
const VERSIONS_WITH_CREATORS = new Set(["12", "org.matrix.hydra.11"]);

export const CREATOR = Number.POSITIVE_INFINITY;

export interface PowerLevelsView {
    /** The creators, in room versions that have them; empty otherwise. */
    creators: string[];
    userLevel(userId: string): number;
    /** Level needed to send a state event of this type. */
    stateLevel(type: string): number;
    /** Level needed to invite. */
    inviteLevel: number;
    usersDefault: number;
    /** The highest finite level anything in the room asks for (what "full admin" means here). */
    highestLevel: number;
    hasEvent: boolean;
}

function num(value: unknown, fallback: number): number {
    return typeof value === "number" && Number.isFinite(value)
        ? value
        : typeof value === "string" && /^-?\d+$/.test(value)
          ? Number(value)
          : fallback;
}

export function roomHasCreators(roomVersion: string): boolean {
    return VERSIONS_WITH_CREATORS.has(roomVersion);
}

export function powerLevelsOf(room: RoomState): PowerLevelsView {
    const create = room.get("m.room.create");
    const pl = room.content("m.room.power_levels");
    const creators: string[] = [];
    if (roomHasCreators(room.roomVersion) && create) {
        creators.push(create.sender);
        const extra = create.content.additional_creators;
        if (Array.isArray(extra)) for (const c of extra) if (typeof c === "string") creators.push(c);
    }
    const users = (pl?.users ?? {}) as Record<string, unknown>;
    const events = (pl?.events ?? {}) as Record<string, unknown>;
    // With no power_levels event at all, the creator has 100 and every threshold is 0 (spec).
    const hasEvent = pl !== undefined;
    const usersDefault = num(pl?.users_default, 0);
    const stateDefault = hasEvent ? num(pl?.state_default, 50) : 0;
    const levels = [
        ...Object.values(users).map((v) => num(v, 0)),
        ...Object.values(events).map((v) => num(v, 0)),
        stateDefault,
        num(pl?.ban, 50),
        num(pl?.kick, 50),
        num(pl?.redact, 50),
        num(pl?.invite, 0),
        100,
    ];
    return {
        creators,
        hasEvent,
        usersDefault,
        inviteLevel: num(pl?.invite, 0),
        highestLevel: Math.max(...levels),
        userLevel(userId) {
            if (creators.includes(userId)) return CREATOR;
            if (!hasEvent) return create?.sender === userId ? 100 : 0;
            return num(users[userId], usersDefault);
        },
        stateLevel(type) {
            return num(events[type], stateDefault);
        },
    };
}

/**
 * Whether `actor` may set `target`'s level to `level`: the actor must be allowed to send power levels, may not
 * grant more than their own level, and may not change someone whose level is already at or above their own.
 */
export function canGrantLevel(pl: PowerLevelsView, actor: string, target: string, level: number): boolean {
    const own = pl.userLevel(actor);
    if (own < pl.stateLevel("m.room.power_levels")) return false;
    if (pl.creators.includes(target)) return false;
    if (own === CREATOR) return true;
    const current = pl.userLevel(target);
    if (current >= own && current !== level) return false;
    return level <= own;
}
