/**
 * Decrypts the old account's encrypted messages where there is no Element client (the CLI): the room's keys come
 * from the old account's key backup (opened with the old recovery key) and go into a Rust OlmMachine with an
 * in-memory store — the same megolm implementation Element runs — which decrypts each event. Keys are read one room
 * at a time, when that room's first encrypted message needs them; nothing is written anywhere.
 */
import type { DecryptedEvent, EventDecryptor, RawTimelineEvent } from "../engine/historyExport.ts";
import { BackupDecryptor, type ExportedRoomKey } from "./backupCrypto.ts";
import { type OldAccountGet, oldBackupRoomKeys } from "./keySources.ts";

/** Sessions imported into the machine per call. */
const IMPORT_BATCH = 500;

export async function backupEventDecryptor(
    get: OldAccountGet,
    userId: string,
    backup: { version: string; privateKey: Uint8Array },
): Promise<EventDecryptor & { close(): void }> {
    const rust = await import("@matrix-org/matrix-sdk-crypto-wasm");
    await rust.initAsync();
    // No store name: the machine lives in memory only and is dropped with `close`.
    const machine = await rust.OlmMachine.initialize(new rust.UserId(userId), new rust.DeviceId("HISTORYEXPORT"));
    const decryptor = await BackupDecryptor.create(backup.privateKey);
    const loaded = new Map<string, Promise<void>>();
    const settings = new rust.DecryptionSettings(rust.TrustRequirement.Untrusted);

    const loadRoom = async (roomId: string) => {
        let batch: ExportedRoomKey[] = [];
        const flush = async () => {
            if (batch.length) await machine.importExportedRoomKeys(JSON.stringify(batch), () => undefined);
            batch = [];
        };
        // An entry that does not decrypt is skipped (its messages are then exported as "could not be decrypted").
        for await (const key of oldBackupRoomKeys(get, { version: backup.version, decryptor }, [roomId])) {
            batch.push(key);
            if (batch.length >= IMPORT_BATCH) await flush();
        }
        await flush();
    };

    return {
        async decrypt(
            roomId: string,
            event: RawTimelineEvent & { event_id: string },
        ): Promise<DecryptedEvent | undefined> {
            let keys = loaded.get(roomId);
            if (!keys) loaded.set(roomId, (keys = loadRoom(roomId)));
            await keys;
            try {
                const result = await machine.decryptRoomEvent(
                    JSON.stringify({ ...event, room_id: roomId }),
                    new rust.RoomId(roomId),
                    settings,
                );
                const clear = JSON.parse(result.event) as { type?: unknown; content?: unknown };
                if (typeof clear.type !== "string" || typeof clear.content !== "object" || clear.content === null)
                    return undefined;
                return { type: clear.type, content: clear.content as Record<string, unknown> };
            } catch {
                return undefined;
            }
        },
        close() {
            machine.close();
        },
    };
}
