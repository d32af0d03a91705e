/**
 * Hands the old account's room keys to the new account through the new account's server-side key backup, so its
 * clients can read every encrypted message the old account could — no file to carry, no crypto session needed.
 *
 * Keys stream from their sources (the old session's export, the old backup) through encryption to uploads of 500
 * sessions; only session ids are kept. What exists for a room is what the old session holds plus every session id
 * the old backup lists (listing needs no key, so keys that could not be read still count as existing); a room's keys
 * are "handed over" only when the new backup, read back at that moment, holds every one of them.
 *
 * A hand-over that stops part way (a listing refused, the export failing, an upload error) never makes a room look
 * empty: a room whose keys were not all enumerated is unknown, and its gate stays closed. A key that cannot be backed
 * up (malformed: the old backup's entries can be written by anyone who knows its public key) is counted as unreadable
 * and the others go on.
 *
 * What the sources hold is not all that exists: a fresh session without a key backup holds nothing, yet the room's
 * messages were encrypted with sessions that exist. So the gate also reads the session ids of the room's latest
 * encrypted messages (as the old account sees them): one held by no source is a key the new account will not get.
 *
 * The inventory is taken at the start, but a run can wait hours (invite limits): right before a room's gate, its
 * old-backup listing is read again and what is new is handed over; a room that was not in the inventory (it turned
 * encryption on meanwhile) is read from every source then.
 */
import type { MigrationContext } from "../engine/context.ts";
import type { KeyHandover, KeysReport, RoomKeyCheck, RoomKeysReport, TimelineSessions } from "../engine/keyHandover.ts";
import type { RoomPlan } from "../engine/plan.ts";
import { type Reason, inEnglish, reason } from "../engine/reasons.ts";
import { isMatrixRequestError, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import {
    BackupDecryptor,
    BackupEncryptor,
    type ExportedRoomKey,
    backupBatches,
    roomKeyProblem,
} from "./backupCrypto.ts";
import type { BackupVersion } from "./backups.ts";
import { KeysError } from "./errors.ts";
import { type LocalRoomKeys, type OldAccountGet, localRoomKeys, oldBackupRoomKeys } from "./keySources.ts";

/** How the new backup came to be trusted (spec: clients should only write to a backup they trust). */
export type BackupTrust = "recovery-key" | "created" | "consent";

export type HandoverTarget = { backup: BackupVersion; trust: BackupTrust } | { unavailable: string; reason: Reason };

/** How many of a room's latest encrypted events the gate reads for their session ids (two pages). */
export const TIMELINE_SESSIONS_READ = 200;
const TIMELINE_PAGE = 100;

/** The megolm session ids a room's encrypted events name; events that name none readable are only counted. */
export function timelineSessions(events: unknown[]): { sessions: Set<string>; unnamed: number } {
    const sessions = new Set<string>();
    let unnamed = 0;
    for (const event of events) {
        const e = event as { type?: unknown; content?: { session_id?: unknown } } | null;
        if (typeof e !== "object" || e === null || e.type !== "m.room.encrypted") continue;
        const id = e.content?.session_id;
        // Bounded: a session id is 43 characters; anything far longer is not one.
        if (typeof id === "string" && id.length > 0 && id.length <= 256) sessions.add(id);
        else unnamed++;
    }
    return { sessions, unnamed };
}

export interface KeyHandoverSettings {
    /** The old session's own keys (Element's logged-in client, or a test client). */
    local?: LocalRoomKeys;
    /** The old account's backup, opened with its recovery key or the key cached in the old session. */
    oldBackup?: { version: string; privateKey: Uint8Array };
    /** The old account's backup version when it exists but could not be opened: its session ids are still listed. */
    oldBackupListing?: { version: string };
    /** Where the keys go, or why they cannot go anywhere. */
    target: HandoverTarget;
    batchSize?: number;
}

interface RoomTally {
    /** From the old session. */
    local: Set<string>;
    /** Listed by the old backup. */
    listed: Set<string>;
    /** Keys in hand (local, or decrypted from the old backup). */
    obtained: Set<string>;
    undecryptable: Set<string>;
    /** Keys (from either source) that cannot be backed up; a placeholder id where the key has none. */
    malformed: Set<string>;
    uploaded: Set<string>;
    /** The old backup's listing of this room was read in full (the last time it was read). */
    listedDone: boolean;
    /** The old session's export was read to its end for this room. */
    localDone: boolean;
    /** Why reading this room's keys again right before its gate failed (the room is then unknown). */
    catchUpError?: string;
    /** Why handing over the keys found right before its gate failed. */
    uploadError?: string;
    /** Session ids in the room's latest encrypted messages, and how many of those name none (read at the gate). */
    seen?: { sessions: Set<string>; unnamed: number };
    /** The last read-back. */
    check?: RoomKeyCheck;
}

const newTally = (): RoomTally => ({
    local: new Set(),
    listed: new Set(),
    obtained: new Set(),
    undecryptable: new Set(),
    malformed: new Set(),
    uploaded: new Set(),
    listedDone: false,
    localDone: false,
});

const messageOf = (e: unknown): string => (isMatrixRequestError(e) || e instanceof Error ? e.message : String(e));

export class BackupKeyHandover implements KeyHandover {
    private readonly rooms = new Map<string, RoomTally>();
    private finished: Promise<void> = Promise.resolve();
    /** Why the hand-over stopped part way (the first error). */
    private failure?: string;
    private fromLocal = 0;
    private fromOldBackup = 0;
    private encryptorFor?: Promise<BackupEncryptor>;

    public constructor(private readonly settings: KeyHandoverSettings) {}

    private get oldBackupVersion(): string | undefined {
        return this.settings.oldBackup?.version ?? this.settings.oldBackupListing?.version;
    }

    public start(ctx: MigrationContext, rooms: RoomPlan[]): void {
        for (const room of rooms) this.rooms.set(room.roomId, newTally());
        this.finished = this.handOver(ctx).catch((e) => this.fail(e));
    }

    private fail(e: unknown): void {
        this.failure ??= messageOf(e);
    }

    /** A key that cannot be backed up is counted for its room and skipped; true when it can go on. */
    private wellFormed(key: ExportedRoomKey): boolean {
        if (!roomKeyProblem(key)) return true;
        const tally = this.rooms.get(key.room_id);
        if (tally) {
            const id = typeof key.session_id === "string" && key.session_id ? key.session_id : undefined;
            tally.malformed.add(id ?? `(malformed ${tally.malformed.size + 1})`);
        }
        return false;
    }

    /** Every source of this room's keys was read to its end (else what exists is not known). */
    private enumerated(tally: RoomTally): boolean {
        return (
            (!this.settings.local || tally.localDone) &&
            (!this.oldBackupVersion || tally.listedDone) &&
            tally.catchUpError === undefined
        );
    }

    private oldBackupReader(ctx: MigrationContext) {
        const opened = this.settings.oldBackup;
        const get: OldAccountGet = (path, query) => ctx.read("old:read", ctx.sides.old, path, { query });
        const hooks = {
            onListed: (roomId: string, ids: string[]) => {
                const tally = this.rooms.get(roomId);
                if (!tally) return;
                for (const id of ids) tally.listed.add(id);
                tally.listedDone = true;
            },
            onUndecryptable: (roomId: string, sessionId: string) =>
                this.rooms.get(roomId)?.undecryptable.add(sessionId),
        };
        return {
            get,
            hooks,
            decryptor: opened ? BackupDecryptor.create(opened.privateKey) : Promise.resolve(undefined),
        };
    }

    private async *sources(ctx: MigrationContext): AsyncGenerator<ExportedRoomKey> {
        const roomIds = new Set(this.rooms.keys());
        // A source that fails stops only itself: the keys in hand still go, and the rooms it did not finish are
        // unknown (see `enumerated`).
        if (this.settings.local) {
            try {
                for await (const key of localRoomKeys(this.settings.local, roomIds)) {
                    if (!this.wellFormed(key)) continue;
                    const tally = this.rooms.get(key.room_id);
                    tally?.local.add(key.session_id);
                    tally?.obtained.add(key.session_id);
                    this.fromLocal++;
                    yield key;
                }
                for (const tally of this.rooms.values()) tally.localDone = true;
            } catch (e) {
                this.fail(e);
            }
        }
        const version = this.oldBackupVersion;
        if (!version) return;
        const reader = this.oldBackupReader(ctx);
        try {
            const decryptor = await reader.decryptor;
            for await (const key of oldBackupRoomKeys(reader.get, { version, decryptor }, roomIds, reader.hooks)) {
                if (!this.wellFormed(key)) continue;
                const tally = this.rooms.get(key.room_id);
                // The old session's copy went first; the backup's may be the better one (lower first index): both go.
                tally?.obtained.add(key.session_id);
                this.fromOldBackup++;
                yield key;
            }
        } catch (e) {
            this.fail(e);
        }
    }

    private async handOver(ctx: MigrationContext): Promise<void> {
        const target = this.settings.target;
        if ("unavailable" in target || ctx.dryRun) {
            // Still read the sources: the report and the leave gate need to know what exists.
            for await (const key of this.sources(ctx)) void key;
            return;
        }
        const encryptor = await BackupEncryptor.create(target.backup.publicKey);
        ctx.progress("keys", `Handing room keys to ${ctx.sides.new.userId}'s key backup`);
        await this.upload(ctx, target.backup, encryptor, this.sources(ctx));
    }

    /** Encrypts and uploads keys to the new backup in batches, noting each uploaded session for its room. */
    private async upload(
        ctx: MigrationContext,
        backup: BackupVersion,
        encryptor: BackupEncryptor,
        keys: AsyncIterable<ExportedRoomKey> | Iterable<ExportedRoomKey>,
    ): Promise<void> {
        for await (const batch of backupBatches(keys, encryptor, { batchSize: this.settings.batchSize ?? 500 })) {
            try {
                await ctx.write("new:keys", ctx.sides.new, "PUT", "/room_keys/keys", {
                    query: { version: backup.version },
                    body: batch.body,
                });
            } catch (e) {
                if (isMatrixRequestError(e) && (e.errcode === "M_WRONG_ROOM_KEYS_VERSION" || e.httpStatus === 404)) {
                    throw new KeysError(
                        "backup_replaced",
                        `${ctx.sides.new.userId}'s key backup (version ${backup.version}) was deleted or replaced during the migration. ` +
                            "Nothing was lost: run the migration again to hand the keys to the new backup.",
                    );
                }
                throw e;
            }
            for (const [roomId, { sessions }] of Object.entries(batch.body.rooms)) {
                const tally = this.rooms.get(roomId);
                for (const sessionId of Object.keys(sessions)) tally?.uploaded.add(sessionId);
            }
            ctx.progress("keys", `Handed over ${this.uploadedCount()} room key(s)`);
        }
        ctx.journal.update(
            (j) =>
                (j.keys = {
                    backupVersion: backup.version,
                    sessionsUploaded: this.uploadedCount(),
                    at: Math.floor(Date.now() / 1000),
                }),
        );
    }

    /**
     * Right before a room's gate: its old-backup listing read again (and, for a room the inventory did not have, the
     * old session's keys too), and what is new handed over. A failure leaves the room unknown, never empty.
     */
    private async catchUp(ctx: MigrationContext, roomId: string, tally: RoomTally, fresh: boolean): Promise<void> {
        const found: ExportedRoomKey[] = [];
        const take = (key: ExportedRoomKey, from: "local" | "backup") => {
            if (!this.wellFormed(key)) return;
            if (from === "local") tally.local.add(key.session_id);
            if (tally.obtained.has(key.session_id)) return;
            tally.obtained.add(key.session_id);
            if (from === "local") this.fromLocal++;
            else this.fromOldBackup++;
            found.push(key);
        };
        try {
            if (fresh && this.settings.local) {
                for await (const key of localRoomKeys(this.settings.local, new Set([roomId]))) take(key, "local");
                tally.localDone = true;
            }
            const version = this.oldBackupVersion;
            if (version) {
                tally.listedDone = false;
                const reader = this.oldBackupReader(ctx);
                const decryptor = await reader.decryptor;
                for await (const key of oldBackupRoomKeys(reader.get, { version, decryptor }, [roomId], reader.hooks))
                    take(key, "backup");
            }
        } catch (e) {
            tally.catchUpError = messageOf(e);
        }
        const target = this.settings.target;
        if (!found.length || !("backup" in target) || ctx.dryRun) return;
        try {
            await this.upload(ctx, target.backup, await this.encryptor(target.backup), found);
        } catch (e) {
            tally.uploadError = messageOf(e);
        }
    }

    private encryptor(backup: BackupVersion): Promise<BackupEncryptor> {
        return (this.encryptorFor ??= BackupEncryptor.create(backup.publicKey));
    }

    private uploadedCount(): number {
        let n = 0;
        for (const t of this.rooms.values()) n += t.uploaded.size;
        return n;
    }

    /**
     * The new backup's sessions for a room, read now. The version read is the one this run trusts (or, when this run
     * has no usable target, the one an earlier run recorded for this room after verifying it), and only while it is
     * still the account's current backup: keys in a replaced version are invisible to the new account's clients.
     */
    private async readBack(
        ctx: MigrationContext,
        roomId: string,
    ): Promise<{ present: Set<string>; version?: string; reasons: Reason[] }> {
        const target = this.settings.target;
        const expected = "backup" in target ? target.backup.version : ctx.journal.journal.rooms[roomId]?.kv;
        if (!expected) return { present: new Set(), reasons: "reason" in target ? [target.reason] : [] };
        const neu = ctx.sides.new;
        const live = await orIfNotFound(ctx.read<{ version?: string }>("new:read", neu, "/room_keys/version"), null);
        if (!live?.version) return { present: new Set(), reasons: [reason("keys-no-new-backup")] };
        if (live.version !== expected)
            return {
                present: new Set(),
                reasons: [reason("keys-backup-changed", { expected, current: live.version })],
            };
        const stored = await orIfNotFound(
            ctx.read<{ sessions?: Record<string, unknown> }>("new:read", neu, `/room_keys/keys/${seg(roomId)}`, {
                query: { version: expected },
            }),
            { sessions: {} },
        );
        return { present: new Set(Object.keys(stored.sessions ?? {})), version: expected, reasons: [] };
    }

    /** The session ids of the room's latest encrypted events, as the old account sees them (bounded: two pages). */
    private async readTimeline(ctx: MigrationContext, roomId: string): Promise<NonNullable<RoomTally["seen"]>> {
        const events: unknown[] = [];
        let from: string | undefined;
        while (events.length < TIMELINE_SESSIONS_READ) {
            const page = await ctx.read<{ chunk?: unknown; end?: unknown }>(
                "old:read",
                ctx.sides.old,
                `/rooms/${seg(roomId)}/messages`,
                {
                    query: {
                        dir: "b",
                        limit: Math.min(TIMELINE_PAGE, TIMELINE_SESSIONS_READ - events.length),
                        filter: JSON.stringify({ types: ["m.room.encrypted"] }),
                        from,
                    },
                },
            );
            const chunk = Array.isArray(page.chunk) ? page.chunk : [];
            events.push(...chunk.slice(0, TIMELINE_SESSIONS_READ - events.length));
            if (!chunk.length || typeof page.end !== "string" || page.end === from) break;
            from = page.end;
        }
        return timelineSessions(events);
    }

    public async checkRoom(ctx: MigrationContext, roomId: string, timeline?: TimelineSessions): Promise<RoomKeyCheck> {
        await this.finished;
        let tally = this.rooms.get(roomId);
        const fresh = !tally;
        if (!tally) this.rooms.set(roomId, (tally = newTally()));
        // A dry run's inventory is seconds old: read again only a room it did not have.
        if (fresh || !ctx.dryRun) await this.catchUp(ctx, roomId, tally, fresh);
        let timelineError: string | undefined;
        const given =
            timeline ?? (await this.readTimeline(ctx, roomId).catch((e: unknown) => ({ error: messageOf(e) })));
        if ("error" in given) timelineError = given.error;
        const seen = "error" in given ? { sessions: new Set<string>(), unnamed: 0 } : given;
        tally.seen = seen;
        const read = await this.readBack(ctx, roomId);
        const hasSource = this.settings.local !== undefined || this.oldBackupVersion !== undefined;
        const enumerated = this.enumerated(tally) && !timelineError;
        const knowsWhatExists = hasSource && enumerated;
        const held = new Set([...tally.local, ...tally.listed, ...tally.obtained, ...tally.malformed]);
        // Sessions the room's messages use that no source holds: they exist, and the new account will not get them.
        const seenNotHeld = [...seen.sessions].filter((id) => !held.has(id));
        const existing = new Set([...held, ...seenNotHeld]);
        const missing = [...existing].filter((id) => !read.present.has(id));
        const reasons: Reason[] = [];
        // Encrypted messages whose sessions are not named, and nothing known: "0 keys" would be a guess.
        const unnamedOnly = existing.size === 0 && seen.unnamed > 0;
        if (!hasSource) {
            reasons.push(reason("keys-unknown"));
        } else if (!enumerated) {
            // "0 keys found" here only means the hand-over stopped before it got to this room.
            reasons.push(
                reason("keys-not-enumerated", { error: tally.catchUpError ?? timelineError ?? this.failure ?? "?" }),
            );
        } else if (unnamedOnly) {
            reasons.push(reason("keys-seen-not-held", { count: seen.unnamed }));
        } else if (missing.length) {
            const total = existing.size;
            const malformed = missing.filter((id) => tally.malformed.has(id) && !tally.obtained.has(id)).length;
            const notHeld = missing.filter((id) => !held.has(id)).length;
            const onlyListed = missing.filter(
                (id) =>
                    held.has(id) && !tally.obtained.has(id) && !tally.undecryptable.has(id) && !tally.malformed.has(id),
            ).length;
            const undecryptable = missing.filter((id) => tally.undecryptable.has(id)).length;
            const inHand = missing.filter((id) => tally.obtained.has(id)).length;
            if (onlyListed) reasons.push(reason("keys-only-in-old-backup", { missing: onlyListed, total }));
            if (undecryptable) reasons.push(reason("keys-undecryptable", { count: undecryptable }));
            if (malformed) reasons.push(reason("keys-malformed", { count: malformed }));
            if (notHeld) reasons.push(reason("keys-seen-not-held", { count: notHeld }));
            if (inHand) {
                // Why keys this run held did not reach the new backup: the hand-over stopped, could not start, or the
                // backup is not (or no longer) the one handed to.
                const target = this.settings.target;
                const failure = this.failure ?? tally.uploadError;
                if (failure) reasons.push(reason("keys-hand-over-failed", { error: failure }));
                else if ("reason" in target) reasons.push(target.reason);
                else if (read.reasons.length) reasons.push(...read.reasons);
                else reasons.push(reason("keys-not-in-new-backup", { missing: inHand, total }));
            }
        }
        const check: RoomKeyCheck = {
            existing: knowsWhatExists && !unnamedOnly ? existing.size : null,
            present: existing.size - missing.length,
            missing: knowsWhatExists ? missing.length : 0,
            backupVersion: read.version,
            reasons,
        };
        tally.check = check;
        return check;
    }

    /** The per-room proof: what exists, what was handed over, what the new backup holds (read back), and why not. */
    public async finish(ctx: MigrationContext): Promise<KeysReport> {
        await this.finished;
        const perRoom: Record<string, RoomKeysReport> = {};
        for (const [roomId, tally] of this.rooms) {
            const check = tally.check ?? (await this.checkRoom(ctx, roomId));
            perRoom[roomId] = {
                found: check.existing ?? 0,
                handedOver: tally.uploaded.size,
                present: check.present,
                missing: check.missing,
                listedInOldBackup: tally.listed.size,
                ...(tally.malformed.size ? { malformed: tally.malformed.size } : {}),
                ...(check.existing === null ? { unknown: true } : {}),
                reasons: check.reasons,
                ...(check.reasons.length ? { why: inEnglish(check.reasons) } : {}),
            };
        }
        const sum = (f: (r: RoomKeysReport) => number) => Object.values(perRoom).reduce((n, r) => n + f(r), 0);
        const target = this.settings.target;
        const error = this.failure ?? ("unavailable" in target ? target.unavailable : undefined);
        const sessionsFound = sum((r) => r.found);
        return {
            sessionsFound,
            sessionsUploaded: this.uploadedCount(),
            sessionsMissing: sum((r) => r.missing),
            backupVersion: "backup" in target ? target.backup.version : null,
            trust: "backup" in target ? target.trust : null,
            sources: {
                oldSession: this.fromLocal,
                oldBackup: this.fromOldBackup,
                listedInOldBackup: sum((r) => r.listedInOldBackup),
            },
            ...(error ? { error } : {}),
            ...(this.failure ? { handOverError: this.failure } : {}),
            ...(sessionsFound === 0 && !Object.values(perRoom).some((r) => r.unknown)
                ? { note: "The old account holds no keys for the chosen encrypted rooms (nothing to hand over)." }
                : {}),
            perRoom,
        };
    }
}
