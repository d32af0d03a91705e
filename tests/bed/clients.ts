/**
 * Real matrix-js-sdk clients for tests: Rust crypto kept in memory (no IndexedDB in Node), sync started and
 * awaited, and a registry so every client a test started is stopped in `stopAllClients()`.
 */
import {
    ClientEvent,
    createClient,
    type MatrixClient,
    type MatrixEvent,
    type Room,
    RoomEvent,
    SyncState,
} from "matrix-js-sdk";
import type { RegisteredUser } from "./homeservers.ts";

const started = new Set<MatrixClient>();
const inFlight = new Set<string>();

/**
 * Tracks requests in flight. Stopping a client while its crypto layer waits for a response either crashes
 * ("null pointer passed to rust" when the answer reaches the freed OlmMachine) or leaves a retry loop running for
 * up to 30 s; so clients are stopped only once everything but the /sync long-poll has landed.
 */
const trackingFetch: typeof fetch = async (input, init) => {
    const id = `${Math.random()} ${input instanceof Request ? input.url : String(input)}`;
    inFlight.add(id);
    try {
        return await fetch(input, init);
    } finally {
        inFlight.delete(id);
    }
};

async function settle(ignoreSync: boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const busy = () => [...inFlight].some((id) => !(ignoreSync && id.includes("/sync?")));
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

export interface ClientOptions {
    crypto?: boolean;
    /** Called with the client before syncing starts (e.g. to set crypto callbacks). */
    cryptoCallbacks?: Parameters<typeof createClient>[0]["cryptoCallbacks"];
}

export async function startClient(user: RegisteredUser, opts: ClientOptions = {}): Promise<MatrixClient> {
    const client = createClient({
        baseUrl: user.homeserver.baseUrl,
        userId: user.userId,
        deviceId: user.deviceId,
        accessToken: user.accessToken,
        cryptoCallbacks: opts.cryptoCallbacks,
        fetchFn: trackingFetch,
    });
    if (opts.crypto !== false) await client.initRustCrypto({ useIndexedDB: false });
    started.add(client);
    const ready = new Promise<void>((resolve, reject) => {
        const onSync = (state: SyncState) => {
            if (state === SyncState.Prepared || state === SyncState.Syncing) {
                client.off(ClientEvent.Sync, onSync);
                resolve();
            } else if (state === SyncState.Error) {
                client.off(ClientEvent.Sync, onSync);
                reject(new Error(`First sync of ${user.userId} failed`));
            }
        };
        client.on(ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 20 });
    await ready;
    return client;
}

/** Stops every client started here, once their pending requests have landed (see `trackingFetch`). */
export async function stopAllClients(): Promise<void> {
    await settle(true, 15_000);
    for (const c of started) c.stopClient();
    started.clear();
    await settle(false, 5_000);
}

/** Resolves once `predicate` holds, re-checking on every sync; rejects after `timeoutMs` with `what`. */
export function waitFor<T>(
    client: MatrixClient,
    predicate: () => T | undefined | null | false,
    what: string,
    timeoutMs = 20_000,
): Promise<T> {
    const now = predicate();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
        const check = () => {
            const v = predicate();
            if (v) {
                cleanup();
                resolve(v);
            }
        };
        const timer = setTimeout(() => {
            cleanup();
            reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const poll = setInterval(check, 250);
        const cleanup = () => {
            clearTimeout(timer);
            clearInterval(poll);
            client.off(ClientEvent.Sync, check);
            client.off(RoomEvent.Timeline, check);
        };
        client.on(ClientEvent.Sync, check);
        client.on(RoomEvent.Timeline, check);
    });
}

export function waitForRoom(client: MatrixClient, roomId: string, membership = "join"): Promise<Room> {
    return waitFor(
        client,
        () => {
            const room = client.getRoom(roomId);
            return room?.getMyMembership() === membership ? room : undefined;
        },
        `${client.getUserId()} to have membership ${membership} in ${roomId}`,
    );
}

/** Waits until the room's timeline holds a decrypted message with this body (decryption is asynchronous). */
export async function waitForDecryptedMessage(
    client: MatrixClient,
    roomId: string,
    body: string,
): Promise<MatrixEvent> {
    return waitFor(
        client,
        () =>
            client
                .getRoom(roomId)
                ?.getLiveTimeline()
                .getEvents()
                .find((e) => e.isEncrypted() && !e.isDecryptionFailure() && e.getContent().body === body),
        `${client.getUserId()} to decrypt "${body}" in ${roomId}`,
    );
}
