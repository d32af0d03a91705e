import {
    type HistoryGet,
    HISTORY_RETRY_BUDGET_MS,
    HISTORY_RETRY_WAITS_MS,
    auditHistory,
    compareViews,
    hiddenPeriods,
    megolmMessageIndex,
    previewHiddenHistory,
    visibilityAtMessages,
    visibilityOf,
} from "./history.ts";

describe("issue 16.1: hidden periods from the visibility changes", () => {
    test("a room `invited` from its creation hides everything so far", () => {
        expect(hiddenPeriods([{ eventId: "$c", visibility: "invited" }], "shared", "invited")).toEqual([
            { visibility: "invited", fromEventId: "$c", ongoing: true },
        ]);
    });

    test("`invited` then `shared`: only the first period is hidden, and it has ended", () => {
        const changes = [
            { eventId: "$a", visibility: "invited" as const },
            { eventId: "$b", visibility: "shared" as const },
        ];
        expect(hiddenPeriods(changes, "shared", "shared")).toEqual([
            { visibility: "invited", fromEventId: "$a", ongoing: false },
        ]);
    });

    test("no change seen: the current value holds throughout; `shared` and `world_readable` hide nothing", () => {
        expect(hiddenPeriods([], "shared", "joined")).toEqual([{ visibility: "joined", ongoing: true }]);
        expect(hiddenPeriods([], "shared", "shared")).toEqual([]);
        expect(hiddenPeriods([{ eventId: "$w", visibility: "world_readable" }], "joined", "world_readable")).toEqual([
            { visibility: "joined", ongoing: false },
        ]);
    });

    test("an unknown or missing value counts as the strictest, `joined`", () => {
        expect(visibilityOf("everyone")).toBe("joined");
        expect(visibilityOf(undefined)).toBe("joined");
        expect(visibilityOf("shared")).toBe("shared");
    });
});

describe("issue 16.2: comparing both views by event id", () => {
    test("not visible, visible without a key, and readable are told apart", () => {
        const old = new Map([
            ["$1", ""],
            ["$2", "s1"],
            ["$3", "s2"],
            ["$4", "s2"],
        ]);
        const neu = new Map([
            ["$2", "s1"],
            ["$3", "s2"],
            ["$9", ""],
        ]);
        expect(compareViews(old, neu, new Set(["s1"]))).toEqual({
            oldSees: 4,
            newSees: 2,
            newCanDecrypt: 1,
            notVisible: 2,
            noKey: 1,
        });
    });
});

describe("the preview reads a hostile server within bounds", () => {
    test("a server that pages forever without an end is read a bounded number of times", async () => {
        let calls = 0;
        const get: HistoryGet = async <T>() => {
            calls++;
            return {
                chunk: [{ event_id: `$${calls}`, type: "m.room.history_visibility", state_key: "", content: {} }],
                end: `t${calls}`,
                start: "x",
            } as T;
        };
        const hidden = await previewHiddenHistory(get, "!r:x", "joined");
        expect(hidden?.periods.length).toBeGreaterThan(0);
        expect(calls).toBeLessThan(40);
    });
});

describe("issue 16.2: the audit over two fake views", () => {
    const page = (events: Array<Record<string, unknown>>) => ({ chunk: events, end: undefined });
    test("plain messages need no key; encrypted ones need their session in the new backup", async () => {
        const all = [
            { event_id: "$p", type: "m.room.message", content: { body: "hi" } },
            { event_id: "$e1", type: "m.room.encrypted", content: { session_id: "s1" } },
            { event_id: "$e2", type: "m.room.encrypted", content: { session_id: "s2" } },
            { event_id: "$e3", type: "m.room.encrypted", content: {} },
        ];
        const getOld: HistoryGet = async <T>() => page(all) as T;
        const getNew: HistoryGet = async <T>(path: string) =>
            (path === "/room_keys/version"
                ? { version: "7" }
                : path.startsWith("/room_keys/keys/")
                  ? { sessions: { s1: {} } }
                  : page(all.slice(0, 2).concat(all.slice(3)))) as T;
        expect(await auditHistory(getOld, getNew, "!r:x")).toEqual({
            oldSees: 4,
            newSees: 3,
            newCanDecrypt: 2,
            notVisible: 1,
            noKey: 1,
            method: "exact",
            backupVersion: "7",
            // No visibility change in view and no state readable: unknown visibility, so no re-read.
            tries: 0,
        });
    });
});

describe("issue 16: the audit asks the new server again while it backfills, only where visibility lets it", () => {
    const msg = (id: string) => ({ event_id: id, type: "m.room.message", content: { body: id } });
    const vis = (id: string, v: string, prev?: string) => ({
        event_id: id,
        type: "m.room.history_visibility",
        state_key: "",
        content: { history_visibility: v },
        ...(prev ? { unsigned: { prev_content: { history_visibility: prev } } } : {}),
    });
    const fakeClock = () => {
        let t = 0;
        const slept: number[] = [];
        return { slept, now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)) };
    };
    // Newest first, as /messages dir=b answers.
    const oldView = [msg("$m4"), msg("$m3"), vis("$v", "shared", "invited"), msg("$m2"), msg("$m1")];
    const getOld: HistoryGet = async <T>() => ({ chunk: oldView }) as T;

    test("the visibility in force at each message comes from the changes in view", () => {
        const at = visibilityAtMessages(oldView, undefined);
        expect(Object.fromEntries(at)).toEqual({ $m1: "invited", $m2: "invited", $m3: "shared", $m4: "shared" });
        expect(Object.fromEntries(visibilityAtMessages([msg("$a")], "shared"))).toEqual({ $a: "shared" });
        expect(visibilityAtMessages([msg("$a")], undefined).size).toBe(0);
    });

    test("a shared message the new server has not backfilled yet is found by a re-read from the newest", async () => {
        let reads = 0;
        const getNew: HistoryGet = async <T>(path: string) => {
            if (path.startsWith("/room_keys")) throw new Error("no backup");
            reads++;
            // The first read lacks $m3 (backfill lag); from the second on the server has it.
            return { chunk: reads === 1 ? [msg("$m4")] : [msg("$m4"), msg("$m3")] } as T;
        };
        const clock = fakeClock();
        const audit = await auditHistory(getOld, getNew, "!r:x", undefined, clock);
        expect(audit).toMatchObject({ oldSees: 4, newSees: 2, notVisible: 2, tries: 1 });
        expect(clock.slept).toEqual([HISTORY_RETRY_WAITS_MS[0]]);
    });

    test("messages sent under `invited` are not asked for again: no wait", async () => {
        const getNew: HistoryGet = async <T>(path: string) =>
            (path.startsWith("/room_keys") ? { sessions: {} } : { chunk: [msg("$m4"), msg("$m3")] }) as T;
        const clock = fakeClock();
        const audit = await auditHistory(getOld, getNew, "!r:x", undefined, clock);
        expect(audit).toMatchObject({ notVisible: 2, tries: 0 });
        expect(clock.slept).toEqual([]);
    });

    test("a shared message that never comes: bounded tries and time, and it counts as not visible", async () => {
        let reads = 0;
        let more = 0;
        const getNew: HistoryGet = async <T>(path: string) => {
            if (path.startsWith("/room_keys")) return {} as T;
            reads++;
            // Each read brings something new (other messages), never $m3: only the bounds end it.
            return { chunk: [msg("$m4"), msg(`$other${more++}`)] } as T;
        };
        const clock = fakeClock();
        const audit = await auditHistory(getOld, getNew, "!r:x", undefined, clock);
        expect(audit.notVisible).toBe(3);
        expect(audit.tries).toBeLessThanOrEqual(HISTORY_RETRY_WAITS_MS.length);
        expect(clock.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(HISTORY_RETRY_BUDGET_MS + 30_000);
        expect(reads).toBe(1 + audit.tries);
    });
});

describe("issue 16 review: a backed-up key decrypts only from its first known index", () => {
    /** A megolm message's unencrypted header (version 3, tag 1 varint index) and some ciphertext bytes, unpadded. */
    const ciphertext = (index: number) => {
        const varint: number[] = [];
        for (let n = index; ; n = Math.floor(n / 128)) {
            if (n < 128) {
                varint.push(n);
                break;
            }
            varint.push((n % 128) | 0x80);
        }
        const bytes = [3, 0x08, ...varint, 0x12, 16, ...Array.from({ length: 16 }, (_, i) => i * 7)];
        return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
    };

    test("the message index is read from the ciphertext's header; anything else is unknown", () => {
        for (const i of [0, 1, 127, 128, 300, 70_000]) expect(megolmMessageIndex(ciphertext(i))).toBe(i);
        expect(megolmMessageIndex("not base64 at all!")).toBeUndefined();
        expect(megolmMessageIndex(btoa("\u0002\u0008\u0005xxxxxxxxxx"))).toBeUndefined();
        expect(megolmMessageIndex(42)).toBeUndefined();
    });

    test("a key that starts at index 5 covers messages 5 on, not those before it, nor one whose index is unreadable", async () => {
        const enc = (id: string, ct: string) => ({
            event_id: id,
            type: "m.room.encrypted",
            content: { session_id: "s1", ciphertext: ct },
        });
        const all = [enc("$i7", ciphertext(7)), enc("$i5", ciphertext(5)), enc("$i2", ciphertext(2)), enc("$x", "??")];
        const page = { chunk: all };
        const getOld: HistoryGet = async <T>() => page as T;
        const getNew: HistoryGet = async <T>(path: string) =>
            (path.startsWith("/room_keys/keys/")
                ? { sessions: { s1: { first_message_index: 5, session_data: {} } } }
                : page) as T;
        expect(await auditHistory(getOld, getNew, "!r:x", "7")).toMatchObject({
            oldSees: 4,
            newSees: 4,
            newCanDecrypt: 2,
            noKey: 2,
        });
        // The same key from index 0 covers all four.
        const fromZero: HistoryGet = async <T>(path: string) =>
            (path.startsWith("/room_keys/keys/") ? { sessions: { s1: { first_message_index: 0 } } } : page) as T;
        expect(await auditHistory(getOld, fromZero, "!r:x", "7")).toMatchObject({ newCanDecrypt: 4, noKey: 0 });
    });
});
