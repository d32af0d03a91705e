import {
    type HistoryGet,
    auditHistory,
    compareViews,
    hiddenPeriods,
    previewHiddenHistory,
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
        });
    });
});
