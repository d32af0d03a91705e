import type { HistoryGet } from "./history.ts";
import {
    type ExportedMessage,
    HtmlHistoryWriter,
    JsonHistoryWriter,
    escapeHtml,
    exportFileBase,
    exportRoomHistory,
    exportRoomsHistory,
} from "./historyExport.ts";

const HOSTILE = `<img src=x onerror=alert(1)>"'&<script>alert(2)</script>`;

function collector(): { out: (s: string) => void; text(): string } {
    const parts: string[] = [];
    return { out: (s) => void parts.push(s), text: () => parts.join("") };
}

const message = (over: Partial<ExportedMessage> = {}): ExportedMessage => ({
    eventId: "$e1",
    sender: "@bob:example.org",
    ts: Date.UTC(2026, 0, 2, 3, 4, 5),
    type: "m.room.message",
    encrypted: false,
    content: { msgtype: "m.text", body: "hello" },
    ...over,
});

test("escapeHtml escapes every markup character", () => {
    expect(escapeHtml(HOSTILE)).toBe(
        "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;&lt;script&gt;alert(2)&lt;/script&gt;",
    );
});

test("the HTML page escapes room names, ids, senders and bodies, runs under a CSP without scripts, and links nothing", async () => {
    const c = collector();
    const html = new HtmlHistoryWriter(c.out);
    await html.beginRoom({ roomId: `!r:${HOSTILE}`, name: HOSTILE, periods: [] });
    await html.message(message({ sender: HOSTILE, content: { body: `${HOSTILE} https://evil.example/` } }));
    await html.message(
        message({ eventId: HOSTILE, encrypted: true, content: {}, undecryptable: { sessionId: HOSTILE } }),
    );
    await html.message(message({ type: `m.image${HOSTILE}`, content: { url: "mxc://x/y" } }));
    await html.endRoom({ messages: 3, undecryptable: 1, truncated: false });
    await html.finish();
    const text = c.text();
    expect(text).toContain(
        `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    );
    expect(text).not.toContain("<img");
    // Every attribute in the page is the writer's own (no href, src or event handler from room text).
    const attributes = new Set(
        [...text.matchAll(/<[a-z][^>]*>/gi)].flatMap((tag) => [...tag[0].matchAll(/\s([a-z-]+)=/gi)].map((a) => a[1])),
    );
    expect([...attributes].sort()).toEqual(["charset", "class", "content", "http-equiv", "lang", "name"]);
    expect(text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(text).toContain("Could not be decrypted");
    expect(text).toContain("2026-01-02 03:04:05 UTC");
    expect(text).toContain("1 could not be decrypted");
    // The only tags are the writer's own.
    const tags = new Set([...text.matchAll(/<\/?([a-zA-Z0-9!]+)/g)].map((m) => m[1]!.toLowerCase()));
    expect([...tags].sort()).toEqual(
        [
            "!doctype",
            "body",
            "code",
            "div",
            "h1",
            "h2",
            "head",
            "html",
            "meta",
            "p",
            "section",
            "style",
            "title",
        ].sort(),
    );
});

test("the JSON document streams one or several rooms and parses back to what was written", async () => {
    const c = collector();
    const json = new JsonHistoryWriter(c.out, { exportedBy: "@alice:example.org", exportedAt: new Date(0) });
    await json.beginRoom({ roomId: "!a:x", name: HOSTILE, periods: [{ visibility: "invited", ongoing: true }] });
    await json.message(message());
    await json.message(message({ eventId: "$e2", content: { body: '\u2028line\nbreak"' } }));
    await json.endRoom({ messages: 2, undecryptable: 0, truncated: false });
    await json.beginRoom({ roomId: "!b:x", name: "empty", periods: [] });
    await json.endRoom({ messages: 0, undecryptable: 0, truncated: true });
    await json.finish();
    const doc = JSON.parse(c.text());
    expect(doc).toMatchObject({
        format: "matrix-account-migration.hidden-history.v1",
        exportedBy: "@alice:example.org",
        exportedAt: "1970-01-01T00:00:00.000Z",
    });
    expect(doc.rooms).toHaveLength(2);
    expect(doc.rooms[0].name).toBe(HOSTILE);
    expect(doc.rooms[0].messages.map((m: ExportedMessage) => m.content.body)).toEqual(["hello", '\u2028line\nbreak"']);
    expect(doc.rooms[1]).toMatchObject({ messages: [], messageCount: 0, truncated: true });
});

/** A scripted server: /context gives a position, /messages pages the timeline forward from it. */
function timeline(events: Array<Record<string, unknown>>): HistoryGet {
    return async <T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> => {
        if (path.includes("/context/")) {
            const id = decodeURIComponent(path.split("/context/")[1]!);
            return { end: String(events.findIndex((e) => e.event_id === id) + 1) } as T;
        }
        const from = Number(query?.from ?? 0);
        const limit = Number(query?.limit);
        const chunk = events.slice(from, from + limit);
        return { chunk, end: String(from + chunk.length) } as T;
    };
}

const msg = (id: string, body: string) => ({
    event_id: id,
    type: "m.room.message",
    sender: "@bob:x",
    origin_server_ts: 1,
    content: { body },
});
const vis = (id: string, v: string) => ({
    event_id: id,
    type: "m.room.history_visibility",
    state_key: "",
    content: { history_visibility: v },
});

test("only the hidden periods are exported, each up to the next visibility change; encrypted ones decrypted or marked", async () => {
    const events = [
        vis("$v1", "invited"),
        msg("$m1", "one"),
        { event_id: "$m2", type: "m.room.encrypted", sender: "@bob:x", content: { session_id: "S1", ciphertext: "x" } },
        { event_id: "$m3", type: "m.room.encrypted", sender: "@bob:x", content: { session_id: "S2" } },
        vis("$v2", "shared"),
        msg("$m4", "visible to newcomers"),
        vis("$v3", "joined"),
        msg("$m5", "five"),
        { event_id: 5, type: "m.room.message" },
    ];
    const c = collector();
    const json = new JsonHistoryWriter(c.out, { exportedBy: "@a:x" });
    const summaries = await exportRoomsHistory(
        timeline(events),
        [
            {
                roomId: "!r:x",
                name: "R",
                periods: [
                    { visibility: "invited", fromEventId: "$v1", ongoing: false },
                    { visibility: "joined", fromEventId: "$v3", ongoing: true },
                ],
            },
        ],
        [json],
        {
            decryptor: {
                decrypt: async (_room, e) =>
                    (e.content as { session_id: string }).session_id === "S1"
                        ? { type: "m.room.message", content: { body: "two" } }
                        : undefined,
            },
        },
    );
    const doc = JSON.parse(c.text());
    const exported = doc.rooms[0].messages as ExportedMessage[];
    expect(exported.map((m) => [m.eventId, m.content.body ?? null, m.undecryptable ?? null])).toEqual([
        ["$m1", "one", null],
        ["$m2", "two", null],
        ["$m3", null, { sessionId: "S2" }],
        ["$m5", "five", null],
    ]);
    expect(summaries.get("!r:x")).toEqual({ messages: 4, undecryptable: 1, truncated: false });
});

test("a period from the start of the room, and the per-room cap says truncated", async () => {
    const events = Array.from({ length: 600 }, (_, i) => msg(`$m${i}`, `n${i}`));
    const bodies: string[] = [];
    const summary = await exportRoomHistory(
        timeline(events),
        { roomId: "!r:x", name: "R", periods: [{ visibility: "joined", ongoing: true }] },
        [
            {
                beginRoom: () => undefined,
                message: (m) => void bodies.push(m.content.body as string),
                endRoom: () => undefined,
                finish: () => undefined,
            },
        ],
        { limit: 300 },
    );
    expect(summary).toEqual({ messages: 300, undecryptable: 0, truncated: true });
    expect(bodies[0]).toBe("n0");
    expect(bodies[299]).toBe("n299");
});

test("file names are made of the room id only, safe, and distinct", () => {
    const a = exportFileBase("!a:b.org");
    expect(a).toMatch(/^hidden-history-_a_b\.org-[0-9a-f]{8}$/);
    expect(exportFileBase("!a_b.org")).not.toBe(a);
    expect(exportFileBase("!../../etc:x")).not.toContain("/");
});

test("an empty page with a new end token is not the end of the period", async () => {
    const pages: Record<string, { chunk: unknown[]; end?: string }> = {
        start: { chunk: [], end: "p1" },
        p1: { chunk: [msg("$m1", "after the gap")], end: "p2" },
        p2: { chunk: [] },
    };
    const get: HistoryGet = async <T>(_path: string, query?: Record<string, string | number | undefined>) =>
        pages[String(query?.from ?? "start")] as T;
    const bodies: string[] = [];
    await exportRoomHistory(get, { roomId: "!r:x", name: "R", periods: [{ visibility: "joined", ongoing: true }] }, [
        {
            beginRoom: () => undefined,
            message: (m) => void bodies.push(m.content.body as string),
            endRoom: () => undefined,
            finish: () => undefined,
        },
    ]);
    expect(bodies).toEqual(["after the gap"]);
});
