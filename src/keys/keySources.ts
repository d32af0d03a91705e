/**
 * Where the old account's room keys come from:
 * - the old session itself (in Element: the logged-in client's crypto), as the JSON export matrix-js-sdk gives;
 * - the old account's server-side backup, read room by room and decrypted with its backup key.
 * Both yield one key at a time, so what follows (encrypting, uploading) never holds them all.
 */
import { orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import {
    type ExportedRoomKey,
    type BackupDecryptor,
    type EncryptedSessionData,
    exportedRoomKeyFromBackup,
} from "./backupCrypto.ts";

/** The part of matrix-js-sdk's CryptoApi used here (any copy of the SDK). */
export interface LocalRoomKeys {
    exportRoomKeysAsJson(): Promise<string>;
}

/**
 * Yields the objects of a JSON array one by one without building the whole array: the export is one string, and
 * parsing it at once would hold every key twice.
 */
export function* parseJsonArrayItems<T>(text: string): Generator<T> {
    let i = text.indexOf("[");
    if (i < 0) throw new Error("The key export is not a JSON array");
    let depth = 0;
    let start = -1;
    let inString = false;
    for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (inString) {
            if (c === 0x5c)
                i++; // backslash: skip the escaped character
            else if (c === 0x22) inString = false;
            continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x7b) {
            if (depth++ === 0) start = i;
        } else if (c === 0x7d) {
            if (--depth === 0) yield JSON.parse(text.slice(start, i + 1)) as T;
        } else if (c === 0x5d && depth === 0) return;
    }
}

/** The old session's keys for the given rooms. */
export async function* localRoomKeys(local: LocalRoomKeys, roomIds: Set<string>): AsyncGenerator<ExportedRoomKey> {
    const json = await local.exportRoomKeysAsJson();
    for (const key of parseJsonArrayItems<ExportedRoomKey>(json)) if (roomIds.has(key.room_id)) yield key;
}

interface BackupRoomResponse {
    sessions?: Record<string, { session_data?: EncryptedSessionData }>;
}

/** Makes a GET for the old account (paced by the caller's scheduler, or plain). */
export type OldAccountGet = <T>(path: string, query: Record<string, string>) => Promise<T>;

export interface OldBackupRoomHooks {
    /** Every session id the backup lists for a room — readable without the backup's key. */
    onListed?(roomId: string, sessionIds: string[]): void;
    /** An entry that does not decrypt: counted, not fatal (one damaged entry must not stop the others). */
    onUndecryptable?(roomId: string, sessionId: string, error: unknown): void;
}

/**
 * The old backup's keys, room by room (`GET /room_keys/keys/{roomId}`), so one response holds one room's sessions.
 * Without a decryptor it only lists what the backup holds (`onListed`) and yields nothing: that is how the leave gate
 * knows which keys exist even when the backup cannot be opened.
 */
export async function* oldBackupRoomKeys(
    get: OldAccountGet,
    backup: { version: string; decryptor?: BackupDecryptor },
    roomIds: Iterable<string>,
    hooks: OldBackupRoomHooks = {},
): AsyncGenerator<ExportedRoomKey> {
    const decryptor = backup.decryptor;
    for (const roomId of roomIds) {
        const response = await orIfNotFound(
            get<BackupRoomResponse>(`/room_keys/keys/${seg(roomId)}`, { version: backup.version }),
            undefined,
        );
        const sessions = Object.entries(response?.sessions ?? {});
        hooks.onListed?.(
            roomId,
            sessions.map(([sessionId]) => sessionId),
        );
        if (!decryptor) continue;
        for (const [sessionId, entry] of sessions) {
            try {
                if (!entry.session_data) throw new Error("no session_data");
                yield exportedRoomKeyFromBackup(roomId, sessionId, await decryptor.decrypt(entry.session_data));
            } catch (e) {
                hooks.onUndecryptable?.(roomId, sessionId, e);
            }
        }
    }
}
