/**
 * History a newcomer cannot see. A server shows a member only the messages whose `m.room.history_visibility`, in
 * force when each was sent, allowed it: `invited` / `joined` periods stay hidden from an account invited later, keys
 * or not. Two reads:
 * - `previewHiddenHistory` (before anything changes, as the old account): the room's visibility changes — a
 *   state-only read of the timeline — give the hidden periods, and the old account's messages in them are counted
 *   (exactly up to PREVIEW_COUNT_LIMIT, else "at least").
 * - `auditHistory` (after the new account joined, the proof): both accounts page the same timeline; by event id, what
 *   the old account sees and the new one does not, and which encrypted messages the new account sees have no key in
 *   its backup (read back from the server). Exact up to AUDIT_EXACT_LIMIT messages per room; above it "sampled".
 * Server data is hostile: every page count is bounded, every field checked before use.
 */
import { seg } from "../sessions/matrixHttp.ts";
import { type MigrationPlan, withHiddenHistory } from "./plan.ts";

/** A GET as one account, paced by the caller. */
export type HistoryGet = <T>(path: string, query?: Record<string, string | number | undefined>) => Promise<T>;

export const MESSAGE_TYPES = ["m.room.message", "m.room.encrypted"];
const VISIBILITY_TYPE = "m.room.history_visibility";
/** Pages of visibility changes read per room (100 each): more changes than that are not a real room's. */
const VISIBILITY_PAGES = 10;
/** Messages counted per room in the preview; beyond it the count says "at least". */
export const PREVIEW_COUNT_LIMIT = 1000;
/** Messages compared by event id per room in the audit; beyond it the audit samples. */
export const AUDIT_EXACT_LIMIT = 2000;
const PAGE = 250;

export type Visibility = "world_readable" | "shared" | "invited" | "joined";
const KNOWN: ReadonlySet<string> = new Set(["world_readable", "shared", "invited", "joined"]);

/** Unknown values count as `joined`, the strictest one (Synapse treats an unknown value like that too). */
export function visibilityOf(value: unknown): Visibility {
    return typeof value === "string" && KNOWN.has(value) ? (value as Visibility) : "joined";
}

export const hidesFromNewcomers = (v: Visibility): boolean => v === "invited" || v === "joined";

export interface VisibilityChange {
    eventId: string;
    visibility: Visibility;
}

/** A stretch of the timeline a newcomer will not see: from a change (or the room's start) to the next change. */
export interface HiddenPeriod {
    visibility: "invited" | "joined";
    /** The change that began it; undefined when it runs from the start of what the old account sees. */
    fromEventId?: string;
    /** Still in force now. */
    ongoing: boolean;
}

/**
 * The hidden periods from the visibility changes the old account sees, oldest first. `before` is the visibility in
 * force before the first of them (from its `prev_content`; `shared` when the room had none, as the spec says).
 */
export function hiddenPeriods(changes: VisibilityChange[], before: Visibility, current: Visibility): HiddenPeriod[] {
    const out: HiddenPeriod[] = [];
    // Without any change seen, the current value has been in force throughout what the old account sees.
    const first = changes.length ? before : current;
    if (hidesFromNewcomers(first))
        out.push({ visibility: first as HiddenPeriod["visibility"], ongoing: !changes.length });
    changes.forEach((c, i) => {
        if (hidesFromNewcomers(c.visibility))
            out.push({
                visibility: c.visibility as HiddenPeriod["visibility"],
                fromEventId: c.eventId,
                ongoing: i === changes.length - 1,
            });
    });
    return out;
}

export interface HiddenHistory {
    periods: HiddenPeriod[];
    /** Messages the old account sees in those periods (at least this many when `atLeast`). */
    count: number;
    atLeast: boolean;
}

interface RawEvent {
    event_id?: unknown;
    type?: unknown;
    state_key?: unknown;
    content?: unknown;
    unsigned?: { prev_content?: unknown };
}
interface Page {
    chunk?: unknown;
    end?: unknown;
}

function eventsOf(page: Page): RawEvent[] {
    return Array.isArray(page.chunk)
        ? (page.chunk as unknown[]).filter((e): e is RawEvent => typeof e === "object" && e !== null)
        : [];
}
const tokenOf = (page: Page): string | undefined => (typeof page.end === "string" ? page.end : undefined);
const contentOf = (e: RawEvent): Record<string, unknown> =>
    typeof e.content === "object" && e.content !== null ? (e.content as Record<string, unknown>) : {};
const isVisibilityChange = (e: RawEvent) => e.type === VISIBILITY_TYPE && e.state_key === "";
const filterOf = (types: string[]) => JSON.stringify({ types, lazy_load_members: true });

/**
 * Which part of a room's history a newcomer invited now will not see, and how many of the old account's messages
 * lie there. `current` is the room's visibility now (from the synced state). Undefined: nothing hidden.
 */
export async function previewHiddenHistory(
    get: HistoryGet,
    roomId: string,
    current: string,
): Promise<HiddenHistory | undefined> {
    const path = `/rooms/${seg(roomId)}/messages`;
    const newestFirst: RawEvent[] = [];
    let from: string | undefined;
    for (let pages = 0; pages < VISIBILITY_PAGES; pages++) {
        const page = await get<Page>(path, { dir: "b", limit: 100, from, filter: filterOf([VISIBILITY_TYPE]) });
        const events = eventsOf(page);
        newestFirst.push(...events.filter(isVisibilityChange));
        const next = tokenOf(page);
        // An empty page with an `end` is not the end (the server may be filtering or backfilling): only no `end` is.
        if (!next || next === from) break;
        from = next;
    }
    const changes = newestFirst
        .reverse()
        .filter((e) => typeof e.event_id === "string")
        .map((e) => ({ eventId: e.event_id as string, visibility: visibilityOf(contentOf(e).history_visibility) }));
    const oldest = newestFirst[0];
    const prev = oldest?.unsigned?.prev_content as Record<string, unknown> | undefined;
    const before = prev && typeof prev === "object" ? visibilityOf(prev.history_visibility) : "shared";
    const periods = hiddenPeriods(changes, before, visibilityOf(current));
    if (!periods.length) return undefined;

    let count = 0;
    let atLeast = false;
    for (const period of periods) {
        const left = PREVIEW_COUNT_LIMIT - count;
        if (left <= 0) {
            atLeast = true;
            break;
        }
        const counted = await countMessagesInPeriod(get, roomId, period, left);
        count += counted.count;
        atLeast ||= counted.more;
    }
    return { periods, count, atLeast };
}

/** Counts messages forward from a period's start until the next visibility change, at most `limit`. */
async function countMessagesInPeriod(
    get: HistoryGet,
    roomId: string,
    period: HiddenPeriod,
    limit: number,
): Promise<{ count: number; more: boolean }> {
    let from: string | undefined;
    if (period.fromEventId) {
        const context = await get<{ end?: unknown }>(`/rooms/${seg(roomId)}/context/${seg(period.fromEventId)}`, {
            limit: 0,
        });
        if (typeof context.end !== "string") return { count: 0, more: true };
        from = context.end;
    }
    let count = 0;
    // Each page holds at least one event, so this ends; the page bound keeps a hostile server from stalling it.
    for (let pages = 0; pages <= limit / 100 + 1; pages++) {
        const page = await get<Page>(`/rooms/${seg(roomId)}/messages`, {
            dir: "f",
            limit: 100,
            from,
            filter: filterOf([...MESSAGE_TYPES, VISIBILITY_TYPE]),
        });
        const events = eventsOf(page);
        for (const e of events) {
            if (isVisibilityChange(e)) return { count, more: false };
            if (typeof e.type === "string" && MESSAGE_TYPES.includes(e.type)) count++;
            if (count >= limit) return { count, more: true };
        }
        const next = tokenOf(page);
        if (!next || next === from) return { count, more: false };
        from = next;
    }
    return { count, more: true };
}

export interface HistoryAudit {
    /** Messages (m.room.message, m.room.encrypted) the old account sees, in the range compared. */
    oldSees: number;
    /** Of those, the ones the new account sees too. */
    newSees: number;
    /** Of those the new account sees: unencrypted ones, and encrypted ones whose session is in its backup. */
    newCanDecrypt: number;
    /** The old account sees them, the new one does not. */
    notVisible: number;
    /** Encrypted, seen by the new account, and their session is not in the new account's backup. */
    noKey: number;
    /**
     * exact: every message the old account sees, when that is at most AUDIT_EXACT_LIMIT. sampled: the newest
     * AUDIT_EXACT_LIMIT of them; what is older is judged by the room's visibility changes (the plan's preview), and
     * the gate stays closed where those hide anything. An old message not found on the new side counts as not visible.
     */
    method: "exact" | "sampled";
    /** The new backup version read back (undefined: the new account has no backup). */
    backupVersion?: string;
    /**
     * Re-reads of the new account's view after the first comparison (0: it saw all it could at once, or what it
     * missed was sent under `invited`/`joined`, which no re-read brings). See HISTORY_RETRY_WAITS_MS.
     */
    tries: number;
}

interface Seen {
    /** Event id → megolm session id (empty string for unencrypted). */
    events: Map<string, string>;
    /** Newest first: the messages and the visibility changes among them (the old account's view only). */
    order?: RawEvent[];
    /** The server said there is nothing older (no `end`). */
    complete: boolean;
    /** The token of the last page asked for: asking again from it makes a server that is backfilling fetch more. */
    lastFrom?: string;
    /** Event id → megolm message index of the encrypted ones whose ciphertext names it (see `megolmMessageIndex`). */
    indexes?: Map<string, number>;
}

/**
 * The message index of a megolm ciphertext, read from its unencrypted header (version byte 3, then the index as a
 * protobuf varint under tag 1): a backup key whose first known index is higher cannot decrypt it. Only the first
 * bytes are decoded; anything else is undefined.
 */
export function megolmMessageIndex(ciphertext: unknown): number | undefined {
    if (typeof ciphertext !== "string" || ciphertext.length < 4) return undefined;
    // atob, not Buffer: the engine runs in the browser too. 16 characters are 12 whole bytes, padding needed none.
    let head: number[];
    try {
        head = Array.from(atob(ciphertext.slice(0, 16)), (c) => c.charCodeAt(0));
    } catch {
        return undefined;
    }
    if (head[0] !== 3 || head[1] !== 0x08) return undefined;
    let index = 0;
    for (let i = 2, shift = 0; i < head.length && shift < 35; i++, shift += 7) {
        index += (head[i]! & 0x7f) * 2 ** shift;
        if (!(head[i]! & 0x80)) return index;
    }
    return undefined;
}

/** The session "id" of an encrypted event that names none: no backup holds it. */
const NO_SESSION = "\u0000none";

function addMessage(events: Map<string, string>, e: RawEvent, indexes?: Map<string, number>): void {
    if (typeof e.event_id !== "string" || typeof e.type !== "string" || !MESSAGE_TYPES.includes(e.type)) return;
    if (e.type !== "m.room.encrypted") return void events.set(e.event_id, "");
    // An encrypted event without a session id can't be decrypted by anyone: it gets a marker no backup holds.
    const content = contentOf(e);
    const session = content.session_id;
    events.set(e.event_id, typeof session === "string" && session ? session : NO_SESSION);
    const index = megolmMessageIndex(content.ciphertext);
    if (indexes && index !== undefined) indexes.set(e.event_id, index);
}

/**
 * Messages one account sees, newest first, from the newest, until `limit` of them are in `into` — or, with `until`,
 * as soon as every one of those ids is in `into`. `withChanges`: the visibility changes come along, in order.
 */
async function seenMessages(
    get: HistoryGet,
    roomId: string,
    limit: number,
    into = new Map<string, string>(),
    opts: { until?: ReadonlySet<string>; withChanges?: boolean } = {},
): Promise<Seen> {
    const path = `/rooms/${seg(roomId)}/messages`;
    const order: RawEvent[] | undefined = opts.withChanges ? [] : undefined;
    const indexes = new Map<string, number>();
    const types = opts.withChanges ? [...MESSAGE_TYPES, VISIBILITY_TYPE] : MESSAGE_TYPES;
    const found = () => opts.until !== undefined && [...opts.until].every((id) => into.has(id));
    let from: string | undefined;
    // A server may answer with short pages (e.g. while it backfills a room it just joined): the page bound allows
    // for that, the event bound keeps the cost.
    const maxPages = 4 * Math.ceil(limit / PAGE) + 4;
    for (let pages = 0; pages < maxPages && into.size < limit && !found(); pages++) {
        const page = await get<Page>(path, { dir: "b", limit: PAGE, from, filter: filterOf(types) });
        for (const e of eventsOf(page)) {
            addMessage(into, e, indexes);
            if (order && (isVisibilityChange(e) || (typeof e.type === "string" && MESSAGE_TYPES.includes(e.type))))
                order.push(e);
        }
        const next = tokenOf(page);
        // An empty page with an `end` is not the end (the server may be filtering or backfilling): only no `end` is.
        if (!next || next === from) return { events: into, complete: true, lastFrom: from, order, indexes };
        from = next;
    }
    return { events: into, complete: false, lastFrom: from, order, indexes };
}

/**
 * Re-reads of the new account's view when the first comparison misses messages that their visibility lets a
 * newcomer see. A server that joined a room a moment ago has only part of its history: Synapse backfills it from the
 * other servers a hundred events at a time, from the oldest events it knows, and answers "nothing older" when it
 * has none left there — though where the room's graph forks (people sending at once, several servers), whole
 * branches ABOVE that point are still missing. Asking again from where it stopped does not find those (measured on the
 * bed: stuck at 21 of 300 missing); reading again from the newest does — Synapse fills the gaps it notices in the
 * pages it serves and, at the bottom, fetches the branches left over — and converged on the bed within ~30 s for a
 * room of 300 messages. Each re-read is a measurement as the new account on its own server, never an inference.
 * Bounded per room: at most HISTORY_RETRY_WAITS_MS.length re-reads, waiting those times before each (≤ 60 s in all),
 * none begun after HISTORY_RETRY_BUDGET_MS, and two re-reads in a row that bring nothing end it.
 */
export const HISTORY_RETRY_WAITS_MS = [2_000, 4_000, 8_000, 15_000, 30_000];
export const HISTORY_RETRY_BUDGET_MS = 60_000;

export interface AuditClock {
    now(): number;
    sleep(ms: number): Promise<void>;
}
const realAuditClock: AuditClock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The visibility in force when each message of the old account's view was sent, from the changes among them: the
 * nearest older change's value; before the oldest change, its `prev_content` (`shared` when none, as the spec says);
 * with no change at all in view, `current`.
 */
export function visibilityAtMessages(order: RawEvent[], current: Visibility | undefined): Map<string, Visibility> {
    const out = new Map<string, Visibility>();
    // Oldest first: walk forward in time, carrying the value in force.
    const oldestFirst = [...order].reverse();
    const firstChange = oldestFirst.find(isVisibilityChange);
    const prev = firstChange?.unsigned?.prev_content as Record<string, unknown> | undefined;
    let inForce: Visibility | undefined = firstChange
        ? prev && typeof prev === "object"
            ? visibilityOf(prev.history_visibility)
            : "shared"
        : current;
    for (const e of oldestFirst) {
        if (isVisibilityChange(e)) inForce = visibilityOf(contentOf(e).history_visibility);
        else if (typeof e.event_id === "string" && inForce) out.set(e.event_id, inForce);
    }
    return out;
}

/**
 * The new account's view, until it holds every message of `old` whose visibility lets it come (see
 * HISTORY_RETRY_WAITS_MS). `mayCome`: the old messages a newcomer can be shown. Returns the view and the re-reads made.
 */
async function newAccountView(
    get: HistoryGet,
    roomId: string,
    mayCome: ReadonlySet<string>,
    limit: number,
    clock: AuditClock,
): Promise<Seen & { tries: number }> {
    const view = await seenMessages(get, roomId, limit);
    const started = clock.now();
    const missing = () => new Set([...mayCome].filter((id) => !view.events.has(id)));
    let tries = 0;
    for (let idle = 0; tries < HISTORY_RETRY_WAITS_MS.length && idle < 2; tries++) {
        const wanted = missing();
        if (!wanted.size || clock.now() - started >= HISTORY_RETRY_BUDGET_MS) break;
        await clock.sleep(HISTORY_RETRY_WAITS_MS[tries]!);
        const before = view.events.size;
        // From the newest again, stopping once every wanted message is there (the view keeps what it saw).
        const again = await seenMessages(get, roomId, limit, view.events, { until: wanted });
        view.complete ||= again.complete;
        idle = view.events.size > before ? 0 : idle + 1;
    }
    return { ...view, tries };
}

/** Session ids the new account's backup holds for a room, read from its server now. */
export async function backedUpSessions(
    getNew: HistoryGet,
    roomId: string,
    version: string | undefined,
): Promise<{ version?: string; sessions: Set<string>; firstIndex: Map<string, number> }> {
    let v = version;
    if (!v) {
        const info = await getNew<{ version?: unknown }>("/room_keys/version").catch(() => ({ version: undefined }));
        v = typeof info.version === "string" ? info.version : undefined;
    }
    if (!v) return { sessions: new Set(), firstIndex: new Map() };
    const stored = await getNew<{ sessions?: unknown }>(`/room_keys/keys/${seg(roomId)}`, { version: v }).catch(() => ({
        sessions: {},
    }));
    const sessions = typeof stored.sessions === "object" && stored.sessions !== null ? stored.sessions : {};
    // The first message index each key decrypts from (the backup's unencrypted `first_message_index`).
    const firstIndex = new Map<string, number>();
    for (const [id, data] of Object.entries(sessions as Record<string, unknown>)) {
        const first = (data as { first_message_index?: unknown } | null)?.first_message_index;
        if (typeof first === "number" && Number.isSafeInteger(first) && first >= 0) firstIndex.set(id, first);
    }
    return { version: v, sessions: new Set(Object.keys(sessions)), firstIndex };
}

/** Compares both accounts' views of one room (see HistoryAudit). Pure given the two views. */
export function compareViews(
    old: Map<string, string>,
    neu: Map<string, string>,
    backedUp: ReadonlySet<string>,
    known: { indexes?: ReadonlyMap<string, number>; firstIndex?: ReadonlyMap<string, number> } = {},
): Omit<HistoryAudit, "method" | "backupVersion" | "tries"> {
    let newSees = 0;
    let newCanDecrypt = 0;
    let noKey = 0;
    // A backed-up key decrypts a message only from its first known index on (a key forwarded or shared part way
    // through a session starts later); a message whose index can't be read counts as covered only by a key from 0.
    const covers = (eventId: string, session: string) => {
        if (!backedUp.has(session)) return false;
        const first = known.firstIndex?.get(session) ?? 0;
        if (first === 0) return true;
        const index = known.indexes?.get(eventId);
        return index !== undefined && index >= first;
    };
    for (const [eventId, session] of old) {
        if (!neu.has(eventId)) continue;
        newSees++;
        if (session === "" || covers(eventId, session)) newCanDecrypt++;
        else noKey++;
    }
    return { oldSees: old.size, newSees, newCanDecrypt, notVisible: old.size - newSees, noKey };
}

/**
 * The old account's view of a room as the audit reads it: its newest AUDIT_EXACT_LIMIT messages (and the visibility
 * changes among them). Read once per room at the gate: the key check takes its session ids from it too
 * (`sessionsInView`), instead of paging the same timeline again.
 */
export type OldAccountView = Seen;

export function readOldAccountView(getOld: HistoryGet, roomId: string): Promise<OldAccountView> {
    return seenMessages(getOld, roomId, AUDIT_EXACT_LIMIT, undefined, { withChanges: true });
}

/**
 * The megolm session ids of the view's encrypted messages; encrypted messages that name none (or not one a backup
 * could hold: longer than 256 characters, where a session id has 43) are only counted.
 */
export function sessionsInView(view: OldAccountView): { sessions: Set<string>; unnamed: number } {
    const sessions = new Set<string>();
    let unnamed = 0;
    for (const session of view.events.values()) {
        if (session === "") continue;
        if (session === NO_SESSION || session.length > 256) unnamed++;
        else sessions.add(session);
    }
    return { sessions, unnamed };
}

/**
 * The audit of one room, as both accounts see it now. `backupVersion`: the new backup this run verified (else the
 * account's current one is read).
 */
export async function auditHistory(
    getOld: HistoryGet,
    getNew: HistoryGet,
    roomId: string,
    backupVersion?: string,
    clock: AuditClock = realAuditClock,
    oldView?: OldAccountView,
): Promise<HistoryAudit> {
    const old = oldView ?? (await readOldAccountView(getOld, roomId));
    const order = old.order ?? [];
    // The room's visibility now, read only when no change is in view (then it was in force throughout).
    const current = order.some(isVisibilityChange)
        ? undefined
        : await getOld<{ history_visibility?: unknown }>(`/rooms/${seg(roomId)}/state/${VISIBILITY_TYPE}/`)
              .then((c) => visibilityOf(c.history_visibility))
              .catch(() => undefined);
    const visibility = visibilityAtMessages(order, current);
    // Only what a newcomer may be shown is worth asking again for; unknown visibility counts as hidden (no retry).
    const mayCome = new Set(
        [...old.events.keys()].filter((id) => {
            const v = visibility.get(id);
            return v !== undefined && !hidesFromNewcomers(v);
        }),
    );
    // The new account sees at most what the old one does, plus what was sent since: a little more room finds the same
    // range. Sampled (the old account sees more than the limit): the newest AUDIT_EXACT_LIMIT are compared.
    const neu = await newAccountView(getNew, roomId, mayCome, AUDIT_EXACT_LIMIT + 2 * PAGE, clock);
    const backup = await backedUpSessions(getNew, roomId, backupVersion);
    return {
        ...compareViews(old.events, neu.events, backup.sessions, {
            indexes: old.indexes,
            firstIndex: backup.firstIndex,
        }),
        method: old.complete ? "exact" : "sampled",
        ...(backup.version ? { backupVersion: backup.version } : {}),
        tries: neu.tries,
    };
}

/** Whether the audit found messages that stay behind. */
export const historyLosses = (a: HistoryAudit): number => a.notVisible + a.noKey;

/**
 * The preview for every room the plan moves (not those the new account is in already: the audit tells there), four
 * rooms at a time. A room whose preview fails gets none: the audit still decides before the old account leaves it.
 */
export async function previewPlanHistory(plan: MigrationPlan, get: HistoryGet): Promise<MigrationPlan> {
    const rooms = plan.rooms.filter((r) => r.selected && r.status === "ready" && r.newMembership !== "join");
    const found = new Map<string, HiddenHistory>();
    let next = 0;
    const worker = async () => {
        while (next < rooms.length) {
            const room = rooms[next++]!;
            const hidden = await previewHiddenHistory(get, room.roomId, room.historyVisibility).catch(() => undefined);
            if (hidden) found.set(room.roomId, hidden);
        }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return withHiddenHistory(plan, found);
}
