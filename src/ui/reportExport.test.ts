/**
 * The Markdown report (issue 15.4): every text a server or a room admin chose — room names, reasons, the admin
 * messages quoting them, error texts, room ids — shows as that text, never as Markdown of its own.
 */
import { buildPlan } from "../engine/plan.ts";
import { emptyAccountOutcome, type MigrationReport } from "../engine/migration.ts";
import type { RoomResult } from "../engine/roomSteps.ts";
import type { RoomSource } from "../engine/snapshot.ts";
import { englishTranslate } from "../i18n/index.ts";
import { resultReasons } from "./planGroups.ts";
import { adminRequestsText, escapeMarkdown, reportMarkdown } from "./reportExport.ts";

const OLD = "@old:a.example";
const NEW = "@new:b.example";

const HOSTILE_NAMES = [
    "Room\n# Injected heading\n[click here](https://evil.example)",
    "![img](x)",
    "<img src=x onerror=alert(1)>",
    "- list",
    "| table | row |\n|---|---|\n| a | b |",
    "```\ncode fence\n```",
    "Line\r\n\r\n1. numbered\u2028> quote\u2029***",
    "**bold** _em_ ~~struck~~ `code` \\ trailing backslash\\",
    "&lt;b&gt; &amp; &#60;script&#62;",
    "<https://evil.example/auto> https://evil.example www.evil.example mail@evil.example",
    "Tab\there\u0000nul\u0085nel\u000bvt\u000cff",
];

describe("escapeMarkdown, bidirectional overrides", () => {
    test("show as a replacement character instead of reordering the name", () => {
        expect(escapeMarkdown("Invoice \u202Efdp.exe")).toBe("Invoice \uFFFDfdp\\.exe");
        expect(escapeMarkdown("a\u2066b\u2069c\u200fd")).toBe("a\uFFFDb\uFFFDc\uFFFDd");
    });
});

/** A room where the old account may not invite: it needs an admin, whose message quotes the room's name. */
function lockedRoom(roomId: string, name: string): RoomSource {
    return {
        roomId,
        membership: "join",
        accountData: {},
        state: [
            { type: "m.room.create", state_key: "", sender: "@creator:a.example", content: { room_version: "10" } },
            { type: "m.room.name", state_key: "", sender: OLD, content: { name } },
            { type: "m.room.join_rules", state_key: "", sender: OLD, content: { join_rule: "invite" } },
            { type: "m.room.power_levels", state_key: "", sender: OLD, content: { users: { [OLD]: 0 }, invite: 50 } },
            { type: "m.room.member", state_key: OLD, sender: OLD, content: { membership: "join" } },
        ],
    };
}

/** The plan and the report a run gives for these rooms (each needing an admin), as the engine words them. */
function exported(names: string[], roomIds = names.map((_, i) => `!room${i}:a.example`)) {
    const plan = buildPlan(
        { userId: OLD, accountData: {}, rooms: names.map((n, i) => lockedRoom(roomIds[i]!, n)) },
        NEW,
    );
    const rooms: RoomResult[] = plan.rooms.map((room) => {
        const blocker = room.blockers.find((b) => b.blocks === "room" && b.adminMessage)!;
        const reasons = [{ key: `blocker|${blocker.messageKey}` as const, params: blocker.params }];
        return {
            roomId: room.roomId,
            name: room.name,
            kind: room.kind,
            outcome: "needs-action",
            reasons,
            reason: blocker.reason,
            adminMessage: blocker.adminMessage,
            steps: [],
            invited: false,
            newAccountJoined: false,
            left: false,
        };
    });
    const report: MigrationReport = {
        version: 1,
        oldUser: OLD,
        newUser: NEW,
        dryRun: false,
        startedAt: "2026-12-07T00:00:00Z",
        finishedAt: "2026-12-07T00:01:00Z",
        invitesSent: 0,
        rooms,
        pendingInvites: [],
        account: emptyAccountOutcome(),
        waits: {},
        errors: [`Copying the profile failed: ${names[0]}`],
    };
    return { markdown: reportMarkdown(englishTranslate, report, plan), plan, report };
}

/** What a CommonMark renderer shows for escaped inline text: backslash escapes and the three entities resolved. */
function rendered(markdown: string): string {
    return markdown
        .replace(/\\([!-/:-@[-`{-~])/g, "$1")
        .replace(/&(lt|gt|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", amp: "&" })[e]!);
}

/** The text with every line separator and control character as a space: how a name shows on one line. */
// eslint-disable-next-line no-control-regex -- control characters are what this replaces
const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ");

/** A character that CommonMark reads as markup unless a backslash before it is itself unescaped. */
const unescaped = (line: string, pattern: RegExp) =>
    new RegExp(String.raw`(?<!(?:^|[^\\])(?:\\\\)*\\)` + pattern.source).test(line);

describe("escapeMarkdown", () => {
    test.each(HOSTILE_NAMES.map((n) => [JSON.stringify(n), n] as const))(
        "%s renders as its own text, on one line",
        (_shown, name) => {
            const escaped = escapeMarkdown(name);
            // eslint-disable-next-line no-control-regex -- control characters are what must not be there
            expect(escaped).not.toMatch(/[\r\n\u2028\u2029\u0085\u000b\u000c\u0000]/);
            expect(rendered(escaped)).toBe(oneLine(name));
            // Nothing left a parser could act on: every ASCII punctuation character is escaped or an entity.
            expect(escaped.replace(/\\[!-/:-@[-`{-~]|&(lt|gt|amp);/g, "")).not.toMatch(/[!-/:-@[-`{-~]/);
        },
    );

    test("plain words stay as they are", () => {
        expect(escapeMarkdown("Project team 2026")).toBe("Project team 2026");
        expect(escapeMarkdown("Café Zürich")).toBe("Café Zürich");
    });
});

describe("the exported Markdown report", () => {
    const { markdown, report } = exported(HOSTILE_NAMES);
    const lines = markdown.split("\n");

    test("has only the report's own structure: its headings, one list item per room, one quote per admin message", () => {
        const headings = lines.filter((l) => /^\s{0,3}#/.test(l));
        expect(headings.slice(0, 3)).toEqual([
            "# Done",
            `## Needs action (${HOSTILE_NAMES.length})`,
            "## Messages for room admins",
        ]);
        // The rest are the admin requests' headings, one per room, each a room's name as text.
        expect(headings.slice(3, -1).map((h) => rendered(h.replace(/^### /, "")))).toEqual(
            report.rooms.map((r) => oneLine(r.name)),
        );
        expect(report.rooms.map((r) => r.name).sort()).toEqual([...HOSTILE_NAMES].sort());
        expect(headings).toHaveLength(3 + HOSTILE_NAMES.length + 1);
        expect(rendered(headings.at(-1)!)).toMatch(/^## Some account-wide steps failed/);

        // Every line is one of the report's own kinds; no line of a room's making (list, table, fence, HTML, quote).
        for (const line of lines)
            expect({ line, ok: /^(|#{1,3} .*|- .*|> .*|From .*)$/.test(line) }).toEqual({ line, ok: true });
        expect(lines.filter((l) => l.startsWith("- **"))).toHaveLength(HOSTILE_NAMES.length);
        expect(lines.filter((l) => l.startsWith("> "))).toHaveLength(HOSTILE_NAMES.length);
        expect(lines.filter((l) => l.startsWith("- ") && !l.startsWith("- **"))).toHaveLength(1);
    });

    test("no link, image, autolink, HTML, code or emphasis comes from a room", () => {
        for (const line of lines) {
            expect({ line, link: unescaped(line, /\]\(/) }).toEqual({ line, link: false });
            expect({ line, image: unescaped(line, /!\[/) }).toEqual({ line, image: false });
            expect({ line, html: /</.test(line) }).toEqual({ line, html: false });
            expect({ line, autolink: /https?:\/\/|www\./.test(line) }).toEqual({ line, autolink: false });
            expect({ line, pipe: unescaped(line, /\|/) }).toEqual({ line, pipe: false });
            expect({ line, tilde: unescaped(line, /~/) }).toEqual({ line, tilde: false });
        }
        // The only emphasis and code are the report's own: a bold name and a code span for the room id, per room.
        const codeLines = lines.filter((l) => unescaped(l, /`/));
        expect(codeLines).toHaveLength(HOSTILE_NAMES.length);
        expect(markdown).not.toContain("evil.example)");
    });

    test("each room's row shows its name and reason as text, and the admin message quotes the name as text", () => {
        report.rooms.forEach((room, i) => {
            const row = lines.filter((l) => l.startsWith("- **"))[i]!;
            const match = /^- \*\*(.*)\*\* \(` (.*) `\): (.*)$/.exec(row);
            expect(match).not.toBeNull();
            expect(rendered(match![1]!)).toBe(oneLine(room.name).trim());
            expect(match![2]).toBe(room.roomId);
            expect(rendered(match![3]!)).toBe(oneLine(resultReasons(englishTranslate, room).join(" ")));
            const quote = lines.filter((l) => l.startsWith("> "))[i]!;
            expect(rendered(quote.slice(2))).toContain(oneLine(room.name));
        });
    });

    test("a room id with backticks and a line break stays inside its code span", () => {
        const { markdown: md } = exported(["Fine name"], ["!x`` `y\n# z:a.example"]);
        const row = md.split("\n").find((l) => l.startsWith("- **"))!;
        expect(row).toBe("- **Fine name** (``` !x`` `y # z:a.example ```): " + row.split("): ")[1]);
        expect(md.split("\n").filter((l) => l.startsWith("#"))).not.toContainEqual(expect.stringContaining("z:a"));
    });
});

describe("'Copy all admin requests'", () => {
    // Names that forge lines or reorder what the reader sees once pasted into a chat or a mail.
    const names = [...HOSTILE_NAMES, "Team \u202eevil.exe\u202c", "\u2067Admins\u2069 \u200fnote\u061c"];
    const { plan, report } = exported(names);
    const text = adminRequestsText(englishTranslate, report, plan);

    test("is two plain lines per room — its name, then its message — with no control character or bidirectional override", () => {
        // eslint-disable-next-line no-control-regex -- control characters are what must not be there
        expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
        expect(text).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
        const blocks = text.split("\n\n");
        expect(blocks).toHaveLength(names.length);
        for (const block of blocks) expect(block.split("\n")).toHaveLength(2);
        // Each heading is the room's name as one line, overrides shown as U+FFFD.
        expect(blocks.map((b) => b.split("\n")[0])).toEqual(
            report.rooms.map((r) =>
                oneLine(r.name).replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD"),
            ),
        );
    });
});
