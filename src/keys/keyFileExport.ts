/**
 * The last-resort route for encrypted history: the old account's keys for the chosen rooms as Element's encrypted
 * key file ("Import E2E room keys"), protected by a passphrase the user chooses. Streams from the same sources as
 * the backup hand-over.
 */
import type { AccountSession } from "../engine/context.ts";
import { BackupDecryptor, type ExportedRoomKey } from "./backupCrypto.ts";
import { KeysError } from "./errors.ts";
import { encryptKeyFile } from "./keyFile.ts";
import { type LocalRoomKeys, type OldAccountGet, localRoomKeys, oldBackupRoomKeys } from "./keySources.ts";

export interface KeyFileInput {
    old: AccountSession;
    roomIds: string[];
    local?: LocalRoomKeys;
    oldBackup?: { version: string; privateKey: Uint8Array };
    passphrase: string;
    rounds?: number;
}

export async function exportKeyFile(input: KeyFileInput): Promise<{ text: string; sessions: number }> {
    if (input.passphrase.length < 8)
        throw new KeysError("key_file_bad_argument", "Choose a key file passphrase of at least 8 characters");
    const roomIds = new Set(input.roomIds);
    let sessions = 0;
    async function* all(): AsyncGenerator<ExportedRoomKey> {
        if (input.local) for await (const key of localRoomKeys(input.local, roomIds)) yield key;
        if (input.oldBackup) {
            const get: OldAccountGet = (path, query) => input.old.http.request("GET", path, { query });
            const decryptor = await BackupDecryptor.create(input.oldBackup.privateKey);
            yield* oldBackupRoomKeys(get, { version: input.oldBackup.version, decryptor }, roomIds);
        }
    }
    async function* counted(): AsyncGenerator<ExportedRoomKey> {
        for await (const key of all()) {
            sessions++;
            yield key;
        }
    }
    const text = await encryptKeyFile(counted(), input.passphrase, input.rounds);
    return { text, sessions };
}
