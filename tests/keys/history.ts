/** Helpers for the key tests: extra devices of seeded users, and reading a room's history as a device decrypts it. */
import { MatrixEvent, type IEvent, type MatrixClient } from "matrix-js-sdk";
import { decodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";

import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { startClient } from "../bed/clients.ts";
import type { Homeserver, RegisteredUser } from "../bed/homeservers.ts";

/** A new device of an existing user (password login), as a test user record. */
export async function loginDevice(
    hs: Homeserver,
    user: { userId: string; password: string },
    deviceName: string,
): Promise<RegisteredUser> {
    const http = new MatrixHttp(hs.baseUrl);
    const login = await http.request<{ user_id: string; access_token: string; device_id: string }>("POST", "/login", {
        body: {
            type: "m.login.password",
            identifier: { type: "m.id.user", user: user.userId },
            password: user.password,
            initial_device_display_name: deviceName,
        },
    });
    return {
        userId: login.user_id,
        accessToken: login.access_token,
        deviceId: login.device_id,
        password: user.password,
        homeserver: hs,
    };
}

/** Every message body in a room as `client` can decrypt it, from the start of the room's history. */
export async function decryptedBodies(
    client: MatrixClient,
    user: RegisteredUser,
    roomId: string,
): Promise<{ bodies: string[]; failures: number }> {
    const http = new MatrixHttp(user.homeserver.baseUrl, user.accessToken);
    const bodies: string[] = [];
    let failures = 0;
    let from: string | undefined;
    for (;;) {
        const page = await http.request<{ chunk: IEvent[]; end?: string }>("GET", `/rooms/${seg(roomId)}/messages`, {
            query: { dir: "b", limit: 100, from },
        });
        for (const raw of page.chunk) {
            if (raw.type !== "m.room.encrypted" && raw.type !== "m.room.message") continue;
            const event = new MatrixEvent({ ...raw, room_id: roomId });
            await client.decryptEventIfNeeded(event);
            if (event.isDecryptionFailure()) failures++;
            else if (typeof event.getContent().body === "string") bodies.push(event.getContent().body as string);
        }
        if (!page.end || !page.chunk.length) break;
        from = page.end;
    }
    return { bodies: bodies.reverse(), failures };
}

/** A brand-new device of the new account that knows nothing but its recovery key, restoring the key backup. */
export async function freshDeviceFromRecoveryKey(
    hs: Homeserver,
    user: { userId: string; password: string },
    recoveryKey: string,
): Promise<{ client: MatrixClient; device: RegisteredUser; imported: number }> {
    const device = await loginDevice(hs, user, "Fresh device after migration");
    const key = decodeRecoveryKey(recoveryKey);
    const client = await startClient(device, {
        cryptoCallbacks: { getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0], key] },
    });
    const crypto = client.getCrypto()!;
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    const { imported } = await crypto.restoreKeyBackup();
    return { client, device, imported };
}
