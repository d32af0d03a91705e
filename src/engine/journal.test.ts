import {
    HEARTBEAT_FRESH_MS,
    JOURNAL_EVENT_TYPE,
    type MigrationJournal,
    NewerJournalError,
    checkJournalFormat,
    journalFor,
    readRunChoices,
    runningElsewhere,
    withJournal,
} from "./journal.ts";
import { DEFAULT_OPTIONS } from "./plan.ts";

const NEW = "@new:new.example";
const OTHER_NEW = "@other:elsewhere.example";

const journal = (rooms: MigrationJournal["rooms"], extra: Partial<MigrationJournal> = {}): MigrationJournal => ({
    startedAt: 1_700_000_000,
    updatedAt: 1_700_000_100,
    rooms,
    account: {},
    ...extra,
});

describe("reading the journal", () => {
    test("the journal of this new account is read back with its rooms and account steps", () => {
        const stored = journal({ "!r:old.example": { i: 1, j: 2, c: 50 } }, { account: { direct: 3 } });
        const read = journalFor({ version: 1, migrations: { [NEW]: stored } }, NEW);
        expect(read).toEqual(stored);
    });

    test.each([
        ["no account data at all", undefined],
        ["null", null],
        ["a string", "garbage"],
        [
            "a version that is not a number",
            { version: "2", migrations: { [NEW]: journal({ "!r:old.example": { j: 1 } }) } },
        ],
        ["no migrations", { version: 1 }],
        [
            "only another new account's journal",
            { version: 1, migrations: { [OTHER_NEW]: journal({ "!r:old.example": { j: 1 } }) } },
        ],
        ["an entry that is not an object", { version: 1, migrations: { [NEW]: "started" } }],
        ["an entry without rooms", { version: 1, migrations: { [NEW]: { startedAt: 1, account: { direct: 1 } } } }],
    ])("a document with %s starts a fresh journal", (_what, doc) => {
        const read = journalFor(doc, NEW);
        expect(read.rooms).toEqual({});
        expect(read.account).toEqual({});
        expect(read.finishedAt).toBeUndefined();
        // Started now, not at a time read from the malformed entry.
        expect(Math.abs(read.startedAt - Date.now() / 1000)).toBeLessThan(60);
    });

    test("changing the journal read does not change the stored document's room map or account steps", () => {
        const doc = { version: 1, migrations: { [NEW]: journal({}) } };
        const read = journalFor(doc, NEW);
        read.rooms["!added:old.example"] = { j: 1 };
        read.account.direct = 1;
        expect(doc.migrations[NEW]).toEqual(journal({}));
    });
});

describe("writing the journal", () => {
    test("writing this new account's journal keeps the journals of other new accounts", () => {
        const other = journal({ "!a:old.example": { l: 9 } });
        const doc = { version: 1, migrations: { [OTHER_NEW]: other, [NEW]: journal({}) } };
        const mine = journal({ "!b:old.example": { j: 5 } });
        expect(withJournal(doc, NEW, mine)).toEqual({ version: 1, migrations: { [OTHER_NEW]: other, [NEW]: mine } });
        // The document read is left as it was.
        expect(doc.migrations[NEW].rooms).toEqual({});
    });

    test("a malformed or unknown document is replaced by one holding only this journal", () => {
        const mine = journal({});
        expect(withJournal("garbage", NEW, mine)).toEqual({ version: 1, migrations: { [NEW]: mine } });
        expect(withJournal({ version: 1 }, NEW, mine)).toEqual({ version: 1, migrations: { [NEW]: mine } });
    });

    test("the journal has its own namespaced account data type", () => {
        expect(JOURNAL_EVENT_TYPE).toMatch(/^[a-z]+\.[a-z_.]+\.journal$/);
        expect(JOURNAL_EVENT_TYPE.startsWith("m.")).toBe(false);
    });
});

describe("a journal written by a newer version of this tool", () => {
    test("is refused, never read as ours (writing ours back would destroy it)", () => {
        expect(() => checkJournalFormat({ version: 2, migrations: {} })).toThrow(NewerJournalError);
        expect(() => checkJournalFormat({ version: 2, migrations: {} })).toThrow(
            /written by a newer version of this tool \(format 2\).*nothing was changed/,
        );
    });

    test.each([undefined, null, "garbage", { version: 1, migrations: {} }, { version: "2" }])(
        "%p is not refused",
        (doc) => {
            expect(() => checkJournalFormat(doc)).not.toThrow();
        },
    );
});

describe("issue 15.7: restored choices are type-checked", () => {
    const options = {
        leaveOldRooms: true,
        movedNotice: false,
        copyDefaultPushRuleChanges: true,
        acceptMissingKeys: [],
    };

    test("well-formed choices are read back as they were written", () => {
        const choices = {
            rooms: ["!a:old.example", "!b:old.example"],
            options: { ...options, acceptMissingKeys: ["!a:old.example"] },
            settings: ["im.vector.web.settings"],
        };
        expect(readRunChoices(choices)).toEqual(choices);
        const read = journalFor({ version: 1, migrations: { [NEW]: journal({}, { choices }) } }, NEW);
        expect(read.choices).toEqual(choices);
    });

    test("a string where the list of rooms whose losses were accepted belongs accepts nothing (not every room)", () => {
        const everyRoom = "!a:old.example !b:old.example";
        const choices = {
            rooms: ["!a:old.example"],
            options: { ...options, acceptMissingKeys: everyRoom },
            settings: [],
        };
        // On the string, `includes` is a substring test: it "accepted" each room's losses.
        expect(everyRoom.includes("!b:old.example")).toBe(true);
        const read = journalFor({ version: 1, migrations: { [NEW]: journal({}, { choices } as never) } }, NEW);
        expect(read.choices!.options.acceptMissingKeys).toEqual([]);
        expect(read.choices!.options.acceptMissingKeys.includes("!b:old.example")).toBe(false);
    });

    test.each([
        ["rooms as a string", { rooms: "!a:old.example", options, settings: [] }],
        ["rooms missing", { options, settings: [] }],
        ["choices as a string", "all"],
        ["choices null", null],
    ])("%s: no choices to restore", (_what, choices) => {
        expect(readRunChoices(choices)).toBeUndefined();
        const read = journalFor({ version: 1, migrations: { [NEW]: journal({}, { choices } as never) } }, NEW);
        expect(read.choices).toBeUndefined();
    });

    test("options missing or malformed are the plan's defaults", () => {
        expect(readRunChoices({ rooms: [] })!.options).toEqual(DEFAULT_OPTIONS);
    });

    test("entries that are not room ids, settings that are not a list, options that are not booleans: dropped", () => {
        expect(
            readRunChoices({
                rooms: ["!a:old.example", 7, { roomId: "!b" }, null],
                options: {
                    leaveOldRooms: "yes",
                    movedNotice: 1,
                    copyDefaultPushRuleChanges: true,
                    acceptMissingKeys: ["!a:old.example", 3],
                    extra: true,
                },
                settings: "im.vector.web.settings",
            }),
        ).toEqual({
            rooms: ["!a:old.example"],
            options: {
                leaveOldRooms: false,
                movedNotice: false,
                copyDefaultPushRuleChanges: true,
                acceptMissingKeys: ["!a:old.example"],
            },
            settings: [],
        });
        expect(readRunChoices({ rooms: [], options: "leave" })).toEqual({
            rooms: [],
            options: {
                leaveOldRooms: false,
                movedNotice: false,
                copyDefaultPushRuleChanges: false,
                acceptMissingKeys: [],
            },
            settings: [],
        });
    });
});

describe("issue 15.7: a migration running elsewhere, by its heartbeat", () => {
    const now = 1_800_000_000_000;
    const beat = (secondsAgo: number, device = "OTHERDEVICE", extra: Partial<MigrationJournal> = {}) =>
        journal({}, { heartbeatAt: now / 1000 - secondsAgo, heartbeatDevice: device, ...extra });

    test("a heartbeat fresher than 90 s from another device: running elsewhere", () => {
        expect(HEARTBEAT_FRESH_MS).toBe(90_000);
        expect(runningElsewhere(beat(5), "MYDEVICE", now)).toEqual({
            deviceId: "OTHERDEVICE",
            heartbeatAt: now / 1000 - 5,
        });
        expect(runningElsewhere(beat(89), "MYDEVICE", now)).toBeDefined();
        // Our own device id unknown: a fresh heartbeat still means someone runs it.
        expect(runningElsewhere(beat(5), undefined, now)).toBeDefined();
    });

    test("stale (90 s or more), our own device, finished, or no heartbeat at all: not running elsewhere", () => {
        expect(runningElsewhere(beat(90), "MYDEVICE", now)).toBeUndefined();
        expect(runningElsewhere(beat(3600), "MYDEVICE", now)).toBeUndefined();
        expect(runningElsewhere(beat(5, "MYDEVICE"), "MYDEVICE", now)).toBeUndefined();
        expect(runningElsewhere(beat(5, "OTHERDEVICE", { finishedAt: now / 1000 }), "MYDEVICE", now)).toBeUndefined();
        expect(runningElsewhere(journal({}), "MYDEVICE", now)).toBeUndefined();
    });

    test("a fresh beat under our own runner (this machine's CLI lock, now ours) is a run that is gone", () => {
        const cli = beat(5, "KILLEDRUN", { heartbeatRunner: "cli:1234" });
        expect(runningElsewhere(cli, "NEWDEVICE", now, "cli:1234")).toBeUndefined();
        // Another machine's CLI, the page (no runner), or a caller that names none: still running elsewhere.
        expect(runningElsewhere(cli, "NEWDEVICE", now, "cli:5678")).toBeDefined();
        expect(runningElsewhere(cli, "NEWDEVICE", now)).toBeDefined();
        expect(runningElsewhere(beat(5, "ELEMENT"), "NEWDEVICE", now, "cli:1234")).toBeDefined();
    });

    test("a heartbeat from a clock far in the future does not hold the migration forever", () => {
        expect(runningElsewhere(beat(-30), "MYDEVICE", now)).toBeDefined();
        expect(runningElsewhere(beat(-86_400), "MYDEVICE", now)).toBeUndefined();
    });

    test("a malformed heartbeat is dropped when the journal is read", () => {
        const doc = {
            version: 1,
            migrations: { [NEW]: journal({}, { heartbeatAt: "soon", heartbeatDevice: 5 } as never) },
        };
        const read = journalFor(doc, NEW);
        expect(read).not.toHaveProperty("heartbeatAt");
        expect(read).not.toHaveProperty("heartbeatDevice");
        const fresh = journalFor({ version: 1, migrations: { [NEW]: beat(5) } }, NEW);
        expect(runningElsewhere(fresh, "MYDEVICE", now)).toBeDefined();
    });
});
