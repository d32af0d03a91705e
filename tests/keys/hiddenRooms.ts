/**
 * Issue 16's rooms, made by another person (bob) for the old account (alice), each with the history visibility of the
 * issue: an encrypted direct chat (room v11) `invited` from its creation (5 messages), a plain group `joined`
 * (4 messages), a plain room `invited` for its first 2 messages then `shared` (4), and an encrypted room with `shared`
 * history (3). Both accounts have recovery and a key backup; alice's backup holds every session her device has.
 */
import { type MatrixClient, Preset } from "matrix-js-sdk";
import { RustBackupManager } from "matrix-js-sdk/lib/rust-crypto/backup.js";

import { startClient, stopAllClients, waitFor, waitForDecryptedMessage, waitForRoom } from "../bed/clients.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { SecretStorageKeys, countBackedUpSessions, setUpRecovery } from "../fixtures/demoAccounts.ts";

const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };
const visibility = (v: string) => ({
    type: "m.room.history_visibility",
    state_key: "",
    content: { history_visibility: v },
});

export interface Rooms {
    dm: string;
    group: string;
    mixed: string;
    shared: string;
}

export const ENCRYPTED = ENCRYPTION;
export { visibility };

export async function say(client: MatrixClient, roomId: string, lines: string[]): Promise<void> {
    for (const line of lines) await client.sendTextMessage(roomId, line);
}

/** What `seedRoomsFromBob` hands the rooms' maker: both people's clients, and bob's room-making with alice joined. */
export interface RoomMaker {
    aliceC: MatrixClient;
    bobC: MatrixClient;
    bob: RegisteredUser;
    make(opts: Parameters<MatrixClient["createRoom"]>[0]): Promise<string>;
}

/**
 * Alice (old, on A), bob (on A) and alice's new account (on B), each with recovery and a key backup; `build` makes
 * bob's rooms for alice. Afterwards alice's backup holds every session her device has (bob's and her own), and every
 * client is stopped again.
 */
export async function seedRoomsFromBob<R>(
    prefix: string,
    build: (p: RoomMaker) => Promise<R>,
): Promise<{
    alice: RegisteredUser;
    aliceNew: RegisteredUser;
    recovery: { alice: string; aliceNew: string };
    rooms: R;
}> {
    const bed = currentBed();
    const [alice, bob, aliceNew] = await Promise.all([
        registerUser(bed.a, uniqueLocalpart(`${prefix}-alice`)),
        registerUser(bed.a, uniqueLocalpart(`${prefix}-bob`), { displayName: "Bob" }),
        registerUser(bed.b, uniqueLocalpart(`${prefix}-alice-new`)),
    ]);
    const delay = RustBackupManager.maxBackupLoopStartDelayMillis;
    (RustBackupManager as unknown as { maxBackupLoopStartDelayMillis: number }).maxBackupLoopStartDelayMillis = 0;
    try {
        const aliceKeys = new SecretStorageKeys();
        const newKeys = new SecretStorageKeys();
        const [aliceC, bobC, newC] = await Promise.all([
            startClient(alice, { cryptoCallbacks: aliceKeys.callbacks }),
            startClient(bob),
            startClient(aliceNew, { cryptoCallbacks: newKeys.callbacks }),
        ]);
        const [aliceRecovery, newRecovery] = await Promise.all([
            setUpRecovery(aliceC, alice),
            setUpRecovery(newC, aliceNew),
        ]);
        const make = async (opts: Parameters<MatrixClient["createRoom"]>[0]) => {
            const { room_id: roomId } = await bobC.createRoom({ ...opts, invite: [alice.userId] });
            await waitForRoom(aliceC, roomId, "invite");
            await aliceC.joinRoom(roomId);
            await waitFor(
                bobC,
                () => bobC.getRoom(roomId)?.getMember(alice.userId)?.membership === "join",
                "bob to see alice joined",
            );
            return roomId;
        };
        const rooms = await build({ aliceC, bobC, bob, make });
        const crypto = aliceC.getCrypto()!;
        for (let i = 0; ; i++) {
            const local = (await crypto.exportRoomKeys()).length;
            if (local > 0 && (await countBackedUpSessions(aliceC, aliceRecovery.backupVersion)) === local) break;
            if (i > 150) throw new Error("alice's backup did not catch up with her device");
            await new Promise((r) => setTimeout(r, 200));
        }
        return {
            alice,
            aliceNew,
            recovery: { alice: aliceRecovery.recoveryKey, aliceNew: newRecovery.recoveryKey },
            rooms,
        };
    } finally {
        await stopAllClients();
        (RustBackupManager as unknown as { maxBackupLoopStartDelayMillis: number }).maxBackupLoopStartDelayMillis =
            delay;
    }
}

/** Bob makes the rooms and invites alice; each side's device holds every key, alice's backup holds hers. */
export function seedHiddenHistoryRooms(): Promise<{
    alice: RegisteredUser;
    aliceNew: RegisteredUser;
    recovery: { alice: string; aliceNew: string };
    rooms: Rooms;
}> {
    return seedRoomsFromBob("hh", async ({ aliceC, bobC, bob, make }) => {
        const [dm, group, mixed, shared] = await Promise.all([
            make({
                preset: Preset.TrustedPrivateChat,
                is_direct: true,
                room_version: "11",
                initial_state: [ENCRYPTION, visibility("invited")],
            }),
            make({ preset: Preset.PrivateChat, name: "Joined-only group", initial_state: [visibility("joined")] }),
            make({ preset: Preset.PrivateChat, name: "Invited, then shared", initial_state: [visibility("invited")] }),
            make({ preset: Preset.PrivateChat, name: "Shared encrypted room", initial_state: [ENCRYPTION] }),
        ]);
        await say(bobC, dm, ["dm 1", "dm 2", "dm 3"]);
        await say(aliceC, dm, ["dm 4", "dm 5"]);
        await say(bobC, group, ["group 1", "group 2"]);
        await say(aliceC, group, ["group 3", "group 4"]);
        await say(bobC, mixed, ["mixed 1", "mixed 2"]);
        await bobC.sendStateEvent(
            mixed,
            "m.room.history_visibility" as never,
            { history_visibility: "shared" } as never,
        );
        await say(bobC, mixed, ["mixed 3", "mixed 4"]);
        await say(bobC, shared, ["shared 1", "shared 2"]);
        await say(aliceC, shared, ["shared 3"]);
        for (const [roomId, body] of [
            [dm, "dm 3"],
            [shared, "shared 2"],
        ] as const)
            await waitForDecryptedMessage(aliceC, roomId, body);
        await aliceC.setAccountData("m.direct" as never, { [bob.userId]: [dm] } as never);
        return { dm, group, mixed, shared };
    });
}
