/**
 * The two ways the old account's state reaches the planner, giving the same AccountSnapshot:
 * - in Element, from the client Element has already synced (no requests at all);
 * - in the CLI and tests, from one full-state /sync (a single GET: a dry run stays free of writes).
 */
import type { AccountSnapshot, RoomSource, StateEvent } from "../engine/snapshot.ts";
import type { MatrixHttp } from "./matrixHttp.ts";

interface RawEvent {
    type?: unknown;
    state_key?: unknown;
    sender?: unknown;
    content?: unknown;
}

function toStateEvents(events: unknown): StateEvent[] {
    if (!Array.isArray(events)) return [];
    return (events as RawEvent[])
        .filter((e) => typeof e?.type === "string" && typeof e.state_key === "string")
        .map((e) => ({
            type: e.type as string,
            state_key: e.state_key as string,
            sender: typeof e.sender === "string" ? e.sender : "",
            content: (e.content ?? {}) as Record<string, unknown>,
        }));
}

function toAccountData(events: unknown): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    if (!Array.isArray(events)) return out;
    for (const e of events as RawEvent[])
        if (typeof e?.type === "string") out[e.type] = (e.content ?? {}) as Record<string, unknown>;
    return out;
}

/**
 * Full current state of every room, no timeline, no presence, members not lazy-loaded. Synapse caches identical
 * sync requests for two minutes (sync_response_cache_duration), which would hand a resumed run the state from before
 * its last steps; excluding a one-off, non-existent account-data type makes each request distinct.
 */
const snapshotFilter = (): string =>
    JSON.stringify({
        account_data: {
            not_types: [
                `io.github.matrix_account_migration.nonce.${Date.now()}.${Math.random().toString(36).slice(2)}`,
            ],
        },
        presence: { not_types: ["*"] },
        room: {
            timeline: { limit: 0 },
            state: { lazy_load_members: false },
            ephemeral: { not_types: ["*"] },
            include_leave: false,
        },
    });

interface SyncResponse {
    account_data?: { events?: unknown };
    rooms?: {
        join?: Record<
            string,
            { state?: { events?: unknown }; timeline?: { events?: unknown }; account_data?: { events?: unknown } }
        >;
        invite?: Record<string, { invite_state?: { events?: unknown } }>;
    };
}

/** The CLI's one full-state /sync may be large (every member of every room); beyond this it is not read. */
export const SNAPSHOT_SYNC_LIMIT = 256 * 1024 * 1024;

export async function snapshotFromSync(http: MatrixHttp, userId: string): Promise<AccountSnapshot> {
    const sync = await http.request<SyncResponse>("GET", "/sync", {
        query: { filter: snapshotFilter(), full_state: true, timeout: 0, set_presence: "offline" },
        // Building the full state of every room can take a server minutes for a large account.
        timeoutMs: 300_000,
        // Every member of every room: big for a large account, but still bounded.
        maxBytes: SNAPSHOT_SYNC_LIMIT,
    });
    const rooms: RoomSource[] = [];
    for (const [roomId, room] of Object.entries(sync.rooms?.join ?? {})) {
        // With a zero-length timeline the state section is the current state; any state in the timeline wins anyway.
        const state = new Map<string, StateEvent>();
        for (const e of [...toStateEvents(room.state?.events), ...toStateEvents(room.timeline?.events)])
            state.set(`${e.type}\u0000${e.state_key}`, e);
        rooms.push({
            roomId,
            membership: "join",
            state: [...state.values()],
            accountData: toAccountData(room.account_data?.events),
        });
    }
    for (const [roomId, room] of Object.entries(sync.rooms?.invite ?? {})) {
        rooms.push({ roomId, membership: "invite", state: toStateEvents(room.invite_state?.events), accountData: {} });
    }
    return { userId, rooms, accountData: toAccountData(sync.account_data?.events) };
}

/** The parts of a matrix-js-sdk MatrixClient (any copy of the SDK: Element bundles its own) this reads. */
export interface SyncedClient {
    getUserId(): string | null;
    getRooms(): SyncedRoom[];
    /** The synced global account data, by type (matrix-js-sdk's stores keep it in this map). */
    store: { accountData?: Map<string, { getContent(): object }> };
}

interface SdkEvent {
    getType(): string;
    getStateKey(): string | undefined;
    getSender(): string | null | undefined;
    getContent(): object;
}

interface SyncedRoom {
    roomId: string;
    getMyMembership(): string;
    getLiveTimeline(): {
        getState(direction: string): { events: Map<string, Map<string, SdkEvent>> } | null | undefined;
    };
    /** Room-level account data (m.tag, …), by type. */
    accountData: Map<string, { getContent(): object }>;
}

/** "f": EventTimeline.FORWARDS, the live end of the timeline (a string, so this file needs no SDK import). */
const FORWARDS = "f";

export function snapshotFromClient(client: SyncedClient): AccountSnapshot {
    const userId = client.getUserId();
    if (!userId) throw new Error("The client is not signed in");
    const rooms: RoomSource[] = [];
    for (const room of client.getRooms()) {
        const membership = room.getMyMembership();
        if (membership !== "join" && membership !== "invite") continue;
        const state: StateEvent[] = [];
        const events = room.getLiveTimeline().getState(FORWARDS)?.events ?? new Map();
        for (const byKey of events.values()) {
            for (const event of byKey.values()) {
                state.push({
                    type: event.getType(),
                    state_key: event.getStateKey() ?? "",
                    sender: event.getSender() ?? "",
                    content: event.getContent() as Record<string, unknown>,
                });
            }
        }
        const accountData: Record<string, Record<string, unknown>> = {};
        for (const [type, event] of room.accountData ?? new Map())
            accountData[type] = event.getContent() as Record<string, unknown>;
        rooms.push({ roomId: room.roomId, membership, state, accountData });
    }
    const accountData: Record<string, Record<string, unknown>> = {};
    for (const [type, event] of client.store.accountData ?? new Map())
        accountData[type] = event.getContent() as Record<string, unknown>;
    return { userId, rooms, accountData };
}
