/**
 * The export's decryption in Element (historyExport.ts stays DOM-free): Element's own client decrypts each event, with
 * every key its session holds — as Element's "Export chat" does. Where it lacks a room's keys and the old backup is
 * open (the old recovery key was given, or the session holds the backup key), that room's keys are read from the
 * backup and imported into Element's session once — what Element's own "restore from backup" does — then tried again.
 */
import type { IEvent, MatrixClient } from "matrix-js-sdk/lib/matrix.js";
import type { IMegolmSessionData } from "matrix-js-sdk/lib/@types/crypto.js";

import type { DecryptedEvent, EventDecryptor, RawTimelineEvent } from "../engine/historyExport.ts";
import { BackupDecryptor, type ExportedRoomKey } from "../keys/backupCrypto.ts";
import { type OldAccountGet, oldBackupRoomKeys } from "../keys/keySources.ts";

export function elementEventDecryptor(
    client: MatrixClient,
    oldBackup?: { version: string; privateKey: Uint8Array; get: OldAccountGet },
): EventDecryptor {
    // Element's copy of matrix-js-sdk makes the event (no second copy of the SDK in the module); nothing is re-emitted.
    const mapper = client.getEventMapper({ preventReEmit: true, decrypt: false });
    const restored = new Map<string, Promise<void>>();
    let decryptor: Promise<BackupDecryptor> | undefined;
    const restoreRoom = async (roomId: string) => {
        if (!oldBackup) return;
        decryptor ??= BackupDecryptor.create(oldBackup.privateKey);
        const keys: ExportedRoomKey[] = [];
        for await (const key of oldBackupRoomKeys(
            oldBackup.get,
            { version: oldBackup.version, decryptor: await decryptor },
            [roomId],
        ))
            keys.push(key);
        if (keys.length) await client.getCrypto()?.importRoomKeys(keys as unknown as IMegolmSessionData[]);
    };
    const clear = (event: ReturnType<typeof mapper>): DecryptedEvent | undefined => {
        // Still "m.room.encrypted": not decrypted (no crypto in this session, or no key).
        if (event.isDecryptionFailure() || event.getType() === "m.room.encrypted") return undefined;
        const content = event.getContent();
        return typeof content === "object" && content !== null
            ? { type: event.getType(), content: content as Record<string, unknown> }
            : undefined;
    };
    return {
        async decrypt(
            roomId: string,
            raw: RawTimelineEvent & { event_id: string },
        ): Promise<DecryptedEvent | undefined> {
            const event = mapper({ ...(raw as Partial<IEvent>), room_id: roomId });
            await client.decryptEventIfNeeded(event);
            const first = clear(event);
            if (first || !oldBackup) return first;
            let once = restored.get(roomId);
            if (!once) restored.set(roomId, (once = restoreRoom(roomId).catch(() => undefined)));
            await once;
            await client.decryptEventIfNeeded(event, { isRetry: true });
            return clear(event);
        },
    };
}
