/**
 * The export's decryption in Element (historyExport.ts stays DOM-free): Element's own client decrypts each event, with
 * every key its session holds or has restored from the key backup — as Element's "Export chat" does.
 */
import type { IEvent, MatrixClient } from "matrix-js-sdk/lib/matrix.js";

import type { DecryptedEvent, EventDecryptor, RawTimelineEvent } from "../engine/historyExport.ts";

export function elementEventDecryptor(client: MatrixClient): EventDecryptor {
    // Element's copy of matrix-js-sdk makes the event (no second copy of the SDK in the module); nothing is re-emitted.
    const mapper = client.getEventMapper({ preventReEmit: true, decrypt: false });
    return {
        async decrypt(
            roomId: string,
            raw: RawTimelineEvent & { event_id: string },
        ): Promise<DecryptedEvent | undefined> {
            const event = mapper({ ...(raw as Partial<IEvent>), room_id: roomId });
            await client.decryptEventIfNeeded(event);
            // Still "m.room.encrypted": not decrypted (no crypto in this session, or no key).
            if (event.isDecryptionFailure() || event.getType() === "m.room.encrypted") return undefined;
            const content = event.getContent();
            return typeof content === "object" && content !== null
                ? { type: event.getType(), content: content as Record<string, unknown> }
                : undefined;
        },
    };
}
