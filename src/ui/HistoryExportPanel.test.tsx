/**
 * @jest-environment jsdom
 */
/** Issue 16.4 on the page: the plan offers to keep what stays behind — all at once or per room — and shows progress. */
import { jest } from "@jest/globals";
import React from "react";
import { fireEvent, render as renderBare, screen, within } from "@testing-library/react";
import { TooltipProvider } from "@vector-im/compound-web";

import { emptyAccountOutcome, type MigrationReport } from "../engine/migration.ts";
import { buildPlan, type MigrationPlan, withHiddenHistory } from "../engine/plan.ts";
import { englishTranslate } from "../i18n/index.ts";
import type { HistoryExportState } from "./MigrationController.ts";
import { PlanReview } from "./PlanReview.tsx";
import { reportMarkdown } from "./reportExport.ts";

const OLD = "@old:a.example";

function hiddenPlan(): MigrationPlan {
    const room = (roomId: string, name: string) => ({
        roomId,
        membership: "join" as const,
        accountData: {},
        state: [
            { type: "m.room.create", state_key: "", sender: OLD, content: { room_version: "10" } },
            { type: "m.room.name", state_key: "", sender: OLD, content: { name } },
            { type: "m.room.join_rules", state_key: "", sender: OLD, content: { join_rule: "invite" } },
            { type: "m.room.power_levels", state_key: "", sender: OLD, content: { users: { [OLD]: 100 } } },
            { type: "m.room.member", state_key: OLD, sender: OLD, content: { membership: "join" } },
        ],
    });
    const plan = buildPlan(
        { userId: OLD, accountData: {}, rooms: [room("!a:a.example", "Room A"), room("!b:a.example", "Room B")] },
        "@new:b.example",
    );
    const hidden = (count: number) => ({
        periods: [{ visibility: "invited" as const, ongoing: true }],
        count,
        atLeast: false,
    });
    return withHiddenHistory(
        plan,
        new Map([
            ["!a:a.example", hidden(37)],
            ["!b:a.example", hidden(5)],
        ]),
    );
}

function renderWith(historyExport?: HistoryExportState) {
    const onExportHistory = jest.fn<(roomIds?: string[]) => void>();
    renderBare(
        <PlanReview
            t={englishTranslate}
            plan={hiddenPlan()}
            onChange={() => undefined}
            keys={null}
            busy={false}
            canStart={true}
            renderAvatar={() => null}
            displayName={() => undefined}
            copyText={async () => undefined}
            onRun={() => undefined}
            onExportHistory={onExportHistory}
            historyExport={historyExport}
        />,
        { wrapper: TooltipProvider },
    );
    return onExportHistory;
}

test("issue 16.4: “Export what stays behind” counts the messages and exports every room; “Export these messages” one room", () => {
    const onExport = renderWith();
    expect(screen.getByText(/The new account will never see 42 messages in 2 rooms/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Export what stays behind" }));
    expect(onExport).toHaveBeenLastCalledWith();
    const row = screen.getByText("Room B").closest("li")!;
    fireEvent.click(within(row).getByRole("button", { name: /Show details/i }));
    fireEvent.click(within(row).getByRole("button", { name: "Export these messages" }));
    expect(onExport).toHaveBeenLastCalledWith(["!b:a.example"]);
});

test("issue 16.4: the export's progress, then what was saved (and what could not be decrypted), is announced", () => {
    renderWith({
        saved: [],
        progress: { roomId: "!a:a.example", roomName: "Room A", messages: 300, roomsDone: 0, roomsTotal: 2 },
    });
    expect(screen.getByRole("status").textContent).toBe("Exporting “Room A”: 300 messages (room 1 of 2)…");
});

test("issue 16.4: when done, the files and counts are named", () => {
    renderWith({
        saved: [
            {
                roomId: "!a:a.example",
                name: "Room A",
                files: ["hidden-history.json", "hidden-history.html"],
                messages: 37,
                undecryptable: 2,
                truncated: false,
            },
        ],
        lastFiles: ["hidden-history.json", "hidden-history.html"],
    });
    expect(screen.getByRole("status").textContent).toBe(
        "Saved 37 messages of 1 rooms: hidden-history.json, hidden-history.html. 2 of them could not be decrypted by this session; they are listed with their ids.",
    );
});

test("issue 16.4: the report (page and Markdown) names what was kept and where", () => {
    const report = {
        version: 1,
        oldUser: OLD,
        newUser: "@new:b.example",
        dryRun: false,
        startedAt: "",
        finishedAt: "",
        invitesSent: 0,
        rooms: [],
        pendingInvites: [],
        account: emptyAccountOutcome(),
        historyExports: [
            {
                roomId: "!a:a.example",
                name: "Room A",
                files: ["hidden-history.json", "hidden-history.html"],
                messages: 37,
                undecryptable: 0,
                truncated: false,
            },
        ],
        waits: {},
        errors: [],
    } satisfies MigrationReport;
    expect(reportMarkdown(englishTranslate, report, { rooms: [] })).toContain(
        "Kept before the migration\\: 37 messages the new account can\\'t see\\, from 1 rooms\\, in hidden\\-history\\.json\\, hidden\\-history\\.html\\.",
    );
});
