/**
 * Hands the old account's room keys to the new account through the new account's server-side key backup, so its
 * clients can read every encrypted message the old account could — no file to carry, no crypto session needed.
 *
 * Keys stream from their sources (the old session's export, the old backup) through encryption to uploads of 500
 * sessions; only session ids are kept, to prove afterwards, room by room, that the new backup holds every one.
 */
import type { MigrationContext } from "../engine/context.ts";
import type { KeyHandover, RoomKeysOutcome } from "../engine/migration.ts";
import type { RoomPlan } from "../engine/plan.ts";
import { isMatrixRequestError, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import { BackupDecryptor, BackupEncryptor, type ExportedRoomKey, backupBatches } from "./backupCrypto.ts";
import type { BackupVersion } from "./backups.ts";
import { KeysError } from "./errors.ts";
import { type LocalRoomKeys, type OldAccountGet, localRoomKeys, oldBackupRoomKeys } from "./keySources.ts";

/** How the new backup came to be trusted (spec: clients should only write to a backup they trust). */
export type BackupTrust = "recovery-key" | "created" | "consent";

export interface KeyHandoverSettings {
    /** The old session's own keys (Element's logged-in client, or a test client). */
    local?: LocalRoomKeys;
    /** The old account's backup, opened with its recovery key or the key cached in the old session. */
    oldBackup?: { version: string; privateKey: Uint8Array };
    /** Where the keys go, or why they cannot go anywhere. */
    target: { backup: BackupVersion; trust: BackupTrust } | { unavailable: string };
    batchSize?: number;
}

interface RoomTally {
    found: Set<string>;
    uploaded: Set<string>;
    undecryptable: number;
}

export interface RoomKeysReport {
    found: number;
    handedOver: number;
    missing: number;
    why?: string;
}

export class BackupKeyHandover implements KeyHandover {
    private readonly rooms = new Map<string, RoomTally>();
    private finished: Promise<void> = Promise.resolve();
    private failure?: string;
    private fromLocal = 0;
    private fromOldBackup = 0;

    public constructor(private readonly settings: KeyHandoverSettings) {}

    public start(ctx: MigrationContext, rooms: RoomPlan[]): void {
        for (const room of rooms) this.rooms.set(room.roomId, { found: new Set(), uploaded: new Set(), undecryptable: 0 });
        this.finished = this.handOver(ctx).catch((e) => {
            this.failure = isMatrixRequestError(e) || e instanceof Error ? e.message : String(e);
        });
    }

    private async *sources(ctx: MigrationContext): AsyncGenerator<ExportedRoomKey> {
        const roomIds = new Set(this.rooms.keys());
        const record = (key: ExportedRoomKey) => this.rooms.get(key.room_id)?.found.add(key.session_id);
        if (this.settings.local) {
            for await (const key of localRoomKeys(this.settings.local, roomIds)) {
                record(key);
                this.fromLocal++;
                yield key;
            }
        }
        const old = this.settings.oldBackup;
        if (old) {
            const decryptor = await BackupDecryptor.create(old.privateKey);
            const get: OldAccountGet = (path, query) => ctx.read("old:read", ctx.sides.old, path, { query });
            const onUndecryptable = (roomId: string) => {
                const tally = this.rooms.get(roomId);
                if (tally) tally.undecryptable++;
            };
            for await (const key of oldBackupRoomKeys(get, { version: old.version, decryptor }, roomIds, onUndecryptable)) {
                record(key);
                this.fromOldBackup++;
                yield key;
            }
        }
    }

    private async handOver(ctx: MigrationContext): Promise<void> {
        const target = this.settings.target;
        if ("unavailable" in target || ctx.dryRun) {
            // Still read the sources: the report says what there is to hand over.
            for await (const key of this.sources(ctx)) void key;
            if ("unavailable" in target) this.failure = target.unavailable;
            return;
        }
        const encryptor = await BackupEncryptor.create(target.backup.publicKey);
        ctx.progress("keys", `Handing room keys to ${ctx.sides.new.userId}'s key backup`);
        for await (const batch of backupBatches(this.sources(ctx), encryptor, { batchSize: this.settings.batchSize ?? 500 })) {
            try {
                await ctx.write("new:keys", ctx.sides.new, "PUT", "/room_keys/keys", { query: { version: target.backup.version }, body: batch.body });
            } catch (e) {
                if (isMatrixRequestError(e) && (e.errcode === "M_WRONG_ROOM_KEYS_VERSION" || e.httpStatus === 404)) {
                    throw new KeysError(
                        "backup_replaced",
                        `${ctx.sides.new.userId}'s key backup (version ${target.backup.version}) was deleted or replaced during the migration. ` +
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
        ctx.journal.update((j) => (j.keys = { backupVersion: target.backup.version, sessionsUploaded: this.uploadedCount(), at: Math.floor(Date.now() / 1000) }));
    }

    private uploadedCount(): number {
        let n = 0;
        for (const t of this.rooms.values()) n += t.uploaded.size;
        return n;
    }

    public async roomDone(roomId: string): Promise<RoomKeysOutcome> {
        await this.finished;
        if (this.failure) return { failed: this.failure };
        return { sessions: this.rooms.get(roomId)?.uploaded.size ?? 0 };
    }

    /** Reads the new backup back, room by room, and reports found / handed over / missing (and why). */
    public async finish(ctx: MigrationContext): Promise<Record<string, unknown>> {
        await this.finished;
        const target = this.settings.target;
        const perRoom: Record<string, RoomKeysReport> = {};
        for (const [roomId, tally] of this.rooms) {
            const found = tally.found.size;
            let missing = found;
            let why: string | undefined;
            if ("backup" in target && !ctx.dryRun && !this.failure) {
                const stored = await orIfNotFound(
                    ctx.read<{ sessions?: Record<string, unknown> }>("new:read", ctx.sides.new, `/room_keys/keys/${seg(roomId)}`, {
                        query: { version: target.backup.version },
                    }),
                    { sessions: {} },
                );
                const present = new Set(Object.keys(stored.sessions ?? {}));
                missing = [...tally.found].filter((id) => !present.has(id)).length;
                if (missing) why = "not in the new backup after the upload";
            } else {
                why = ctx.dryRun ? "dry run" : this.failure;
            }
            if (tally.undecryptable) why = `${why ? `${why}; ` : ""}${tally.undecryptable} entr${tally.undecryptable === 1 ? "y" : "ies"} of the old backup could not be decrypted`;
            perRoom[roomId] = { found, handedOver: tally.uploaded.size, missing, ...(why ? { why } : {}) };
        }
        const sessionsFound = Object.values(perRoom).reduce((n, r) => n + r.found, 0);
        return {
            sessionsFound,
            sessionsUploaded: this.uploadedCount(),
            backupVersion: "backup" in target ? target.backup.version : null,
            trust: "backup" in target ? target.trust : null,
            sources: { oldSession: this.fromLocal, oldBackup: this.fromOldBackup },
            ...(this.failure ? { error: this.failure } : {}),
            ...(sessionsFound === 0 ? { note: "The old account holds no keys for the chosen encrypted rooms (nothing to hand over)." } : {}),
            perRoom,
        };
    }
}
