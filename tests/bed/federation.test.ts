/**
 * Proves the test bed is real: two Synapse servers federating over TLS, and matrix-js-sdk's Rust crypto
 * encrypting on one and decrypting on the other.
 */
import { Preset } from "matrix-js-sdk";

import { startClient, stopAllClients, waitForDecryptedMessage, waitForRoom } from "./clients.ts";
import { registerUser, uniqueLocalpart } from "./homeservers.ts";
import { currentBed } from "./jestGlobal.ts";

afterAll(() => stopAllClients());

test("a user on server B joins an encrypted room on server A over federation and decrypts its message", async () => {
    const bed = currentBed();
    const alice = await registerUser(bed.a, uniqueLocalpart("alice"));
    const bob = await registerUser(bed.b, uniqueLocalpart("bob"));
    expect(alice.userId.endsWith(`:${bed.a.serverName}`)).toBe(true);
    expect(bob.userId.endsWith(`:${bed.b.serverName}`)).toBe(true);

    const aliceClient = await startClient(alice);
    const bobClient = await startClient(bob);

    const { room_id: roomId } = await aliceClient.createRoom({
        preset: Preset.PrivateChat,
        invite: [bob.userId],
        initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitForRoom(bobClient, roomId, "invite");
    await bobClient.joinRoom(roomId);
    // Alice must see Bob joined (over federation) before she encrypts, or he would not get the room key.
    await waitForRoom(aliceClient, roomId);
    await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 20_000;
        const check = () => {
            if (aliceClient.getRoom(roomId)?.getMember(bob.userId)?.membership === "join") return resolve();
            if (Date.now() > deadline) return reject(new Error("Alice never saw Bob's join"));
            setTimeout(check, 200);
        };
        check();
    });

    const body = `Hello across servers ${Date.now()}`;
    await aliceClient.sendTextMessage(roomId, body);

    const received = await waitForDecryptedMessage(bobClient, roomId, body);
    expect(received.isEncrypted()).toBe(true);
    expect(received.getWireType()).toBe("m.room.encrypted");
    expect(received.getSender()).toBe(alice.userId);
    expect(received.getContent().body).toBe(body);
});
