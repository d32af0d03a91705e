import {
    JOURNAL_EVENT_TYPE,
    type MigrationJournal,
    NewerJournalError,
    checkJournalFormat,
    journalFor,
    withJournal,
} from "./journal.ts";

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
