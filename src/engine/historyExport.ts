/**
 * What stays behind can be kept: the messages a newcomer will not see (the hidden periods of history.ts), read as the
 * old account, decrypted by the old side where it can, written to sinks as they arrive — JSON for tools and a
 * readable HTML page — so a room of any size is never held in memory. No DOM, no React: the CLI writes files, the
 * page builds downloads from the same writers. Server and room data is hostile: the HTML escapes every value and
 * runs under a CSP that allows no script and loads nothing; the JSON is JSON.
 */
import { seg } from "../sessions/matrixHttp.ts";
import { type HiddenPeriod, type HistoryGet, MESSAGE_TYPES } from "./history.ts";

/** Messages exported per room at most; beyond it the export ends and says "truncated". */
export const EXPORT_MESSAGE_LIMIT = 500_000;
const PAGE = 250;
const VISIBILITY_TYPE = "m.room.history_visibility";
export const EXPORT_FORMAT = "matrix-account-migration.hidden-history.v1";

/** A raw timeline event, as /messages returns it (unchecked). */
export interface RawTimelineEvent {
    event_id?: unknown;
    type?: unknown;
    sender?: unknown;
    origin_server_ts?: unknown;
    state_key?: unknown;
    content?: unknown;
}

/** The old side's decryption of one encrypted event: its clear type and content, or undefined when it can't. */
export interface EventDecryptor {
    decrypt(roomId: string, event: RawTimelineEvent & { event_id: string }): Promise<DecryptedEvent | undefined>;
}
export interface DecryptedEvent {
    type: string;
    content: Record<string, unknown>;
}

export interface ExportedMessage {
    eventId: string;
    sender: string;
    /** Milliseconds since 1970 (the sender's server's clock); 0 when the server gave none. */
    ts: number;
    type: string;
    encrypted: boolean;
    content: Record<string, unknown>;
    /** Set when an encrypted message could not be decrypted: its megolm session, so a key found later can open it. */
    undecryptable?: { sessionId?: string };
}

export interface ExportRoom {
    roomId: string;
    name: string;
    periods: HiddenPeriod[];
}

export interface RoomExportSummary {
    messages: number;
    undecryptable: number;
    /** The export stopped at EXPORT_MESSAGE_LIMIT (or a caller's limit); more messages lie in the hidden periods. */
    truncated: boolean;
}

/** Where exported messages go, one room after another (a document may hold one room or several). */
export interface HistorySink {
    beginRoom(room: ExportRoom): Promise<void> | void;
    message(m: ExportedMessage): Promise<void> | void;
    endRoom(summary: RoomExportSummary): Promise<void> | void;
    /** Ends the document. */
    finish(): Promise<void> | void;
}

/** Appends text to a file or a download. */
export type TextOut = (chunk: string) => Promise<void> | void;

export interface ExportProgress {
    roomId: string;
    roomName: string;
    /** Messages of this room written so far. */
    messages: number;
    roomsDone: number;
    roomsTotal: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const isVisibilityChange = (e: RawTimelineEvent) => e.type === VISIBILITY_TYPE && e.state_key === "";
const filterOf = (types: string[]) => JSON.stringify({ types, lazy_load_members: true });

/**
 * The old account's messages in one hidden period, oldest first: forward from the change that began it (or from the
 * start of what the old account sees) to the next visibility change. At most `limit`; `more` when it stopped there.
 */
async function* periodMessages(
    get: HistoryGet,
    roomId: string,
    period: HiddenPeriod,
    limit: number,
): AsyncGenerator<RawTimelineEvent & { event_id: string; type: string }, { more: boolean }> {
    let from: string | undefined;
    if (period.fromEventId) {
        const context = await get<{ end?: unknown }>(`/rooms/${seg(roomId)}/context/${seg(period.fromEventId)}`, {
            limit: 0,
        });
        if (typeof context.end !== "string") throw new Error(`the server gave no position after ${period.fromEventId}`);
        from = context.end;
    }
    let count = 0;
    // Short or empty pages are allowed for (a server filtering or backfilling); the page bound keeps a hostile server
    // from stalling it.
    const maxPages = 4 * Math.ceil(limit / PAGE) + 4;
    for (let pages = 0; pages < maxPages; pages++) {
        const page = await get<{ chunk?: unknown; end?: unknown }>(`/rooms/${seg(roomId)}/messages`, {
            dir: "f",
            limit: PAGE,
            from,
            filter: filterOf([...MESSAGE_TYPES, VISIBILITY_TYPE]),
        });
        const chunk = Array.isArray(page.chunk) ? (page.chunk as unknown[]).filter(isObject) : [];
        for (const e of chunk as RawTimelineEvent[]) {
            if (isVisibilityChange(e)) return { more: false };
            if (typeof e.event_id !== "string" || typeof e.type !== "string" || !MESSAGE_TYPES.includes(e.type))
                continue;
            if (count >= limit) return { more: true };
            count++;
            yield e as RawTimelineEvent & { event_id: string; type: string };
        }
        const next = typeof page.end === "string" ? page.end : undefined;
        // An empty page with an `end` is not the end: only no `end` (or the same one again) is.
        if (!next || next === from) return { more: false };
        from = next;
    }
    return { more: true };
}

/** One event as exported: decrypted where the old side can, else marked with the ids needed to try again later. */
async function toExported(
    roomId: string,
    e: RawTimelineEvent & { event_id: string; type: string },
    decryptor: EventDecryptor | undefined,
): Promise<ExportedMessage> {
    const base = {
        eventId: e.event_id,
        sender: typeof e.sender === "string" ? e.sender : "",
        ts: typeof e.origin_server_ts === "number" && Number.isFinite(e.origin_server_ts) ? e.origin_server_ts : 0,
    };
    const content = isObject(e.content) ? e.content : {};
    if (e.type !== "m.room.encrypted") return { ...base, type: e.type, encrypted: false, content };
    const decrypted = await decryptor?.decrypt(roomId, e).catch(() => undefined);
    if (decrypted && typeof decrypted.type === "string" && isObject(decrypted.content))
        return { ...base, type: decrypted.type, encrypted: true, content: decrypted.content };
    const sessionId = typeof content.session_id === "string" ? content.session_id : undefined;
    return { ...base, type: e.type, encrypted: true, content: {}, undecryptable: sessionId ? { sessionId } : {} };
}

/**
 * Exports one room's hidden history to every sink, oldest first, one message at a time. `limit` defaults to
 * EXPORT_MESSAGE_LIMIT messages for the room (all its periods together).
 */
export async function exportRoomHistory(
    get: HistoryGet,
    room: ExportRoom,
    sinks: HistorySink[],
    options: { decryptor?: EventDecryptor; limit?: number; onMessages?(count: number): void } = {},
): Promise<RoomExportSummary> {
    const limit = options.limit ?? EXPORT_MESSAGE_LIMIT;
    for (const s of sinks) await s.beginRoom(room);
    const summary: RoomExportSummary = { messages: 0, undecryptable: 0, truncated: false };
    for (const period of room.periods) {
        const messages = periodMessages(get, room.roomId, period, limit - summary.messages);
        for (;;) {
            const next = await messages.next();
            if (next.done) {
                summary.truncated ||= next.value.more;
                break;
            }
            const m = await toExported(room.roomId, next.value, options.decryptor);
            if (m.undecryptable) summary.undecryptable++;
            summary.messages++;
            for (const s of sinks) await s.message(m);
            if (summary.messages % 100 === 0) options.onMessages?.(summary.messages);
        }
        if (summary.messages >= limit) break;
    }
    for (const s of sinks) await s.endRoom(summary);
    options.onMessages?.(summary.messages);
    return summary;
}

/** Several rooms into the same sinks (one document holding them all), with progress. */
export async function exportRoomsHistory(
    get: HistoryGet,
    rooms: ExportRoom[],
    sinks: HistorySink[],
    options: { decryptor?: EventDecryptor; limit?: number; onProgress?(p: ExportProgress): void } = {},
): Promise<Map<string, RoomExportSummary>> {
    const out = new Map<string, RoomExportSummary>();
    for (const [i, room] of rooms.entries()) {
        const progress = (messages: number) =>
            options.onProgress?.({
                roomId: room.roomId,
                roomName: room.name,
                messages,
                roomsDone: i,
                roomsTotal: rooms.length,
            });
        progress(0);
        out.set(room.roomId, await exportRoomHistory(get, room, sinks, { ...options, onMessages: progress }));
    }
    for (const s of sinks) await s.finish();
    options.onProgress?.({ roomId: "", roomName: "", messages: 0, roomsDone: rooms.length, roomsTotal: rooms.length });
    return out;
}

/**
 * The JSON document, streamed: `{format, exportedAt, exportedBy, rooms: [{roomId, name, periods, messages: [...],
 * messageCount, undecryptable, truncated}]}`. Every value goes through JSON.stringify.
 */
export class JsonHistoryWriter implements HistorySink {
    private rooms = 0;
    private messages = 0;
    private pending: Promise<void> | void;
    public constructor(
        private readonly out: TextOut,
        header: { exportedBy: string; exportedAt?: Date },
    ) {
        this.pending = out(
            `{"format":${JSON.stringify(EXPORT_FORMAT)},"exportedBy":${JSON.stringify(header.exportedBy)},` +
                `"exportedAt":${JSON.stringify((header.exportedAt ?? new Date()).toISOString())},"rooms":[`,
        );
    }
    private async write(text: string): Promise<void> {
        await this.pending;
        this.pending = undefined;
        await this.out(text);
    }
    public beginRoom(room: ExportRoom): Promise<void> {
        this.messages = 0;
        return this.write(
            `${this.rooms++ ? "," : ""}\n{"roomId":${JSON.stringify(room.roomId)},"name":${JSON.stringify(room.name)},` +
                `"periods":${JSON.stringify(room.periods)},"messages":[`,
        );
    }
    public message(m: ExportedMessage): Promise<void> {
        return this.write(`${this.messages++ ? "," : ""}\n${JSON.stringify(m)}`);
    }
    public endRoom(s: RoomExportSummary): Promise<void> {
        return this.write(
            `\n],"messageCount":${s.messages},"undecryptable":${s.undecryptable},"truncated":${s.truncated}}`,
        );
    }
    public finish(): Promise<void> {
        return this.write("\n]}\n");
    }
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text for HTML element content and quoted attributes: every markup character escaped. */
export function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Words of the HTML page, in the person's language (the page passes its translations, the CLI English). */
export interface HtmlWords {
    title: string;
    /** Explains what the file holds (plain text). */
    intro: string;
    undecryptable: string;
    /** "{count} messages" already filled in by the caller is not possible while streaming: a function. */
    summary(s: RoomExportSummary): string;
    /** Said of a message whose content has no text body (e.g. an image), with its type. */
    noText(type: string): string;
    lang: string;
}

export const ENGLISH_HTML_WORDS: HtmlWords = {
    title: "Messages the new account can't see",
    intro:
        "These messages were sent while the room showed members only what was sent after they were invited or joined, " +
        "so the new account will never see them. Exported by the old account before the migration.",
    undecryptable: "Could not be decrypted",
    summary: (s) =>
        `${s.messages} messages${s.undecryptable ? `, ${s.undecryptable} could not be decrypted` : ""}` +
        (s.truncated ? ` — the export stopped after ${s.messages} messages; there are more.` : "."),
    noText: (type) => `(no text: ${type})`,
    lang: "en",
};

const CSS =
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1d22}" +
    "h2{margin-top:2.5rem;border-bottom:1px solid #ccc}.meta{color:#656d77;font-size:.85rem}" +
    ".msg{margin:.75rem 0}.body{white-space:pre-wrap;overflow-wrap:anywhere}.failed{color:#a00}code{font-size:.8rem}";

/**
 * The readable page, streamed. Only plain text from the events (each `body`), escaped; nothing from the room becomes
 * a link, an attribute, an image or a style, and the CSP forbids scripts and every load even if something slipped.
 */
export class HtmlHistoryWriter implements HistorySink {
    private pending: Promise<void> | void;
    public constructor(
        private readonly out: TextOut,
        private readonly words: HtmlWords = ENGLISH_HTML_WORDS,
    ) {
        this.pending = out(
            `<!DOCTYPE html>\n<html lang="${escapeHtml(words.lang)}"><head><meta charset="utf-8">` +
                `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
                `<meta name="referrer" content="no-referrer"><title>${escapeHtml(words.title)}</title>` +
                `<style>${CSS}</style></head><body>\n<h1>${escapeHtml(words.title)}</h1>\n<p>${escapeHtml(words.intro)}</p>\n`,
        );
    }
    private async write(text: string): Promise<void> {
        await this.pending;
        this.pending = undefined;
        await this.out(text);
    }
    public beginRoom(room: ExportRoom): Promise<void> {
        return this.write(
            `<section><h2>${escapeHtml(room.name)}</h2><p class="meta"><code>${escapeHtml(room.roomId)}</code></p>\n`,
        );
    }
    public message(m: ExportedMessage): Promise<void> {
        const when = m.ts ? new Date(m.ts).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
        const meta = `<div class="meta">${escapeHtml(m.sender)} · ${escapeHtml(when)}</div>`;
        let body: string;
        if (m.undecryptable) {
            body =
                `<div class="body failed">${escapeHtml(this.words.undecryptable)} ` +
                `<code>${escapeHtml(m.eventId)}${m.undecryptable.sessionId ? ` · ${escapeHtml(m.undecryptable.sessionId)}` : ""}</code></div>`;
        } else {
            const text = typeof m.content.body === "string" ? m.content.body : this.words.noText(m.type);
            body = `<div class="body">${escapeHtml(text)}</div>`;
        }
        return this.write(`<div class="msg">${meta}${body}</div>\n`);
    }
    public endRoom(s: RoomExportSummary): Promise<void> {
        return this.write(`<p class="meta">${escapeHtml(this.words.summary(s))}</p></section>\n`);
    }
    public finish(): Promise<void> {
        return this.write("</body></html>\n");
    }
}

/** A file name made of a room id only (names are the room's own text), safe on every file system. */
export function exportFileBase(roomId: string): string {
    // FNV-1a of the id: two ids that read the same once sanitised still get different names.
    let hash = 0x811c9dc5;
    for (let i = 0; i < roomId.length; i++) hash = Math.imul(hash ^ roomId.charCodeAt(i), 0x01000193) >>> 0;
    const readable = roomId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100);
    return `hidden-history-${readable}-${hash.toString(16).padStart(8, "0")}`;
}

/** One room's export, as the report names it. */
export interface HistoryExportRecord {
    roomId: string;
    name: string;
    /** The files written (JSON, then HTML): paths in the CLI, download names in the page. */
    files: string[];
    messages: number;
    undecryptable: number;
    truncated: boolean;
}
