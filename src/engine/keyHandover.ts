/**
 * How the engine sees the key hand-over (implemented in src/keys): it streams keys in the background from the start
 * of a run, answers — per room, read back at the moment of asking — whether every key that exists is in the new
 * account's backup, and adds the per-room proof to the report. Types only.
 */
import type { MigrationContext } from "./context.ts";
import type { RoomPlan } from "./plan.ts";
import type { Reason } from "./reasons.ts";

/** A room's keys, checked against the new account's backup as it is now. */
export interface RoomKeyCheck {
    /**
     * Sessions known to exist: the old session's own plus every session id the old backup lists for the room.
     * Null when no source could be read at all (no session keys here and no old backup to list).
     */
    existing: number | null;
    /** Of those, held by the new account's current backup. */
    present: number;
    /** Known to exist but not in the new backup (0 when `existing` is null). */
    missing: number;
    /** The new backup version that was read back, when there was one to trust. */
    backupVersion?: string;
    /** Why keys are missing (or unknown); empty when nothing is. */
    reasons: Reason[];
}

export interface KeysReport {
    /** Sessions known to exist in the chosen encrypted rooms (including those only listed by the old backup). */
    sessionsFound: number;
    sessionsUploaded: number;
    sessionsMissing: number;
    backupVersion: string | null;
    trust: string | null;
    sources: { oldSession: number; oldBackup: number; listedInOldBackup: number };
    error?: string;
    /** The hand-over stopped part way (the first error): the run needs the person, whatever the rooms say. */
    handOverError?: string;
    note?: string;
    perRoom: Record<string, RoomKeysReport>;
}

export interface RoomKeysReport {
    found: number;
    /** Uploaded by this run. */
    handedOver: number;
    /** In the new backup when read back. */
    present: number;
    missing: number;
    listedInOldBackup: number;
    /** Keys that cannot be backed up (malformed), counted as unreadable. */
    malformed?: number;
    /** True when no source of this room's keys could be read, or the hand-over stopped before it read them all. */
    unknown?: boolean;
    reasons: Reason[];
    /** The reasons in English (CLI, JSON). */
    why?: string;
}

/** Session ids seen in a room's encrypted timeline, or why that read failed. */
export type TimelineSessions = { sessions: Set<string>; unnamed: number } | { error: string };

export interface KeyHandover {
    start(ctx: MigrationContext, rooms: RoomPlan[]): void;
    /**
     * Waits for the hand-over to finish, then reads the room's keys in the new backup back, now. `timeline`: the
     * session ids of the room's encrypted messages as the old account sees them, when the caller read them already
     * (the gate reads the old timeline once, for the history audit and this check); without it, the check reads them.
     */
    checkRoom(ctx: MigrationContext, roomId: string, timeline?: TimelineSessions): Promise<RoomKeyCheck>;
    finish(ctx: MigrationContext): Promise<KeysReport>;
}
