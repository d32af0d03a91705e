/**
 * @jest-environment jsdom
 */
/** The review screens' own logic (no network): grouping, what a row says, what choices report back, the keys panel. */
import { jest } from "@jest/globals";
import React from "react";
import { fireEvent, render as renderBare, screen, within } from "@testing-library/react";
import { TooltipProvider } from "@vector-im/compound-web";

import { buildPlan, type MigrationPlan, withHiddenHistory } from "../engine/plan.ts";
import type { RoomSource } from "../engine/snapshot.ts";
import { englishTranslate } from "../i18n/index.ts";
import { KeysPanel, type KeysPanelProps } from "./KeysPanel.tsx";
import { planGroupOf } from "./planGroups.ts";
import { PlanReview, type PlanReviewProps } from "./PlanReview.tsx";

/** Compound tooltips (the show/hide action of secret fields) need their provider, as on the page. */
const render = (ui: React.ReactElement) => renderBare(ui, { wrapper: TooltipProvider });

const OLD = "@old:a.example";
const NEW = "@new:b.example";

function room(
    roomId: string,
    name: string,
    joinRule: string,
    levels: Record<string, number>,
    extra: RoomSource["state"] = [],
    powerToChange = 100,
): RoomSource {
    return {
        roomId,
        membership: "join",
        accountData: {},
        state: [
            { type: "m.room.create", state_key: "", sender: "@creator:a.example", content: { room_version: "10" } },
            { type: "m.room.name", state_key: "", sender: OLD, content: { name } },
            { type: "m.room.join_rules", state_key: "", sender: OLD, content: { join_rule: joinRule } },
            {
                type: "m.room.power_levels",
                state_key: "",
                sender: OLD,
                content: { users: levels, invite: 50, events: { "m.room.power_levels": powerToChange } },
            },
            { type: "m.room.member", state_key: OLD, sender: OLD, content: { membership: "join" } },
            ...extra,
        ],
    };
}

function plan(): MigrationPlan {
    return buildPlan(
        {
            userId: OLD,
            accountData: {},
            rooms: [
                room("!admin:a.example", "Admin room", "invite", { [OLD]: 100 }),
                room("!locked:a.example", "Locked room", "invite", { [OLD]: 0 }),
                // A moderator who may not change power levels: the room moves, but an admin must give the level.
                room("!mod:a.example", "Moderated room", "public", { [OLD]: 50 }),
                room("!public:a.example", "Public room", "public", {}),
            ],
        },
        NEW,
    );
}

function renderReview(p: MigrationPlan, extra: Partial<PlanReviewProps> = {}) {
    const onChange = jest.fn<(p: MigrationPlan) => void>();
    const onRun = jest.fn<(dryRun: boolean) => void>();
    const copyText = jest.fn(async (_text: string) => undefined);
    render(
        <PlanReview
            t={englishTranslate}
            plan={p}
            onChange={onChange}
            keys={null}
            busy={false}
            canStart={true}
            renderAvatar={() => null}
            displayName={() => undefined}
            copyText={copyText}
            onRun={onRun}
            {...extra}
        />,
    );
    return { onChange, onRun, copyText };
}

test("rooms are grouped by what happens to them; a room whose level needs an admin is in 'needs help' from the start", () => {
    const p = plan();
    expect(Object.fromEntries(p.rooms.map((r) => [r.name, planGroupOf(r)]))).toEqual({
        "Admin room": "move",
        "Locked room": "help",
        "Moderated room": "help",
        "Public room": "move",
    });
    renderReview(p);
    const move = screen.getByRole("region", { name: "To move" });
    const help = screen.getByRole("region", { name: "Needs someone's help" });
    expect(
        within(move)
            .getAllByRole("listitem")
            .map((li) => li.textContent),
    ).toEqual([expect.stringContaining("Admin room"), expect.stringContaining("Public room")]);
    expect(within(help).getByText("Moderated room").closest("li")!.textContent).toContain(
        "Moves, but an admin must give the new account level 50",
    );
    expect(within(move).getByText("2")).toBeTruthy(); // the count badge
});

test("details open on demand with the full reason and the admin message, which copies", () => {
    const { copyText } = renderReview(plan());
    expect(screen.queryByText(/may not invite anyone/)).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Show details of Locked room" }));
    expect(
        screen.getByText("The old account may not invite anyone to “Locked room” (!locked:a.example)."),
    ).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Copy message for an admin" }));
    expect(copyText).toHaveBeenCalledWith(expect.stringContaining(`Could you invite ${NEW} to “Locked room”`));
});

test("select-all, one room, the filter, and the one primary action report back", () => {
    const { onChange, onRun } = renderReview(plan());
    fireEvent.click(screen.getByRole("checkbox", { name: "Select all: To move" }));
    expect(onChange.mock.calls[0][0].rooms.filter((r) => r.selected).map((r) => r.name)).toEqual([
        "Locked room",
        "Moderated room",
    ]);
    fireEvent.click(screen.getByRole("checkbox", { name: "Public room" }));
    expect(onChange.mock.calls[1][0].rooms.find((r) => r.name === "Public room")!.selected).toBe(false);
    expect((screen.getByRole("checkbox", { name: "Locked room" }) as HTMLInputElement).disabled).toBe(true);

    fireEvent.change(screen.getByRole("searchbox", { name: "Filter rooms by name" }), { target: { value: "pub" } });
    expect(
        within(screen.getByRole("region", { name: "To move" }))
            .getAllByRole("listitem")
            .map((li) => li.textContent),
    ).toEqual([expect.stringContaining("Public room")]);

    expect(screen.getAllByRole("button", { name: /Start migration|Try it first/ }).map((b) => b.textContent)).toEqual([
        "Try it first (changes nothing)",
        "Start migration",
    ]);
    fireEvent.click(screen.getByRole("button", { name: "Start migration" }));
    expect(onRun).toHaveBeenCalledWith(false);
});

const keysCommon: KeysPanelProps = {
    t: englishTranslate,
    status: { oldBackup: true, oldBackupKeyInSession: false, newBackup: true, oldSessionKeys: true },
    choices: {},
    onChange: () => undefined,
    busy: false,
    onRecoveryKeySaved: () => undefined,
    onCheckAgain: () => undefined,
    onSetUpRecovery: () => undefined,
    onExportKeyFile: async () => 0,
    saveFile: () => undefined,
    copyText: async () => undefined,
};

test("keys: without the new recovery key the critical consent shows; recovery keys are password fields", () => {
    const onChange = jest.fn();
    render(<KeysPanel {...keysCommon} onChange={onChange} />);
    expect(screen.getByText("Hand the keys over without checking?")).toBeTruthy();
    expect((screen.getByLabelText("Recovery key of the old account (optional)") as HTMLInputElement).type).toBe(
        "password",
    );
    fireEvent.click(screen.getByRole("checkbox", { name: "Hand the keys over without checking" }));
    expect(onChange).toHaveBeenCalledWith({ trustUnverifiedNewBackup: true });
});

test("keys: without a new backup, the three routes are a radio group; the file route needs a passphrase", () => {
    render(
        <KeysPanel {...keysCommon} status={{ ...keysCommon.status, oldBackupKeyInSession: true, newBackup: false }} />,
    );
    const group = screen.getByRole("group", { name: /no key backup yet/ });
    expect(
        within(group)
            .getAllByRole("radio")
            .map((r) => (r as HTMLInputElement).value),
    ).toEqual(["element", "here", "file"]);
    expect(screen.getByRole("button", { name: "Check again" })).toBeTruthy();
    fireEvent.click(screen.getByRole("radio", { name: "Save the keys as a file" }));
    const download = () => screen.getByRole("button", { name: "Download key file" });
    // Compound buttons are disabled with aria-disabled (they stay focusable and say why they do nothing).
    expect(download().getAttribute("aria-disabled")).toBe("true");
    fireEvent.change(screen.getByLabelText(/Passphrase for the file/), { target: { value: "long enough" } });
    expect(download().getAttribute("aria-disabled")).not.toBe("true");
    expect(screen.queryByLabelText(/Recovery key of the old account/)).toBeNull(); // this session holds the backup key
});

test("keys: a recovery key made here is shown once, with copy and download, and continuing needs 'saved it'", () => {
    const onSaved = jest.fn();
    const copyText = jest.fn(async (_t: string) => undefined);
    const saveFile = jest.fn();
    render(
        <KeysPanel
            {...keysCommon}
            recoveryKeyToSave="EsTc abcd efgh"
            onRecoveryKeySaved={onSaved}
            copyText={copyText}
            saveFile={saveFile}
        />,
    );
    expect(screen.getByText("EsTc abcd efgh")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    expect(copyText).toHaveBeenCalledWith("EsTc abcd efgh");
    fireEvent.click(screen.getByRole("button", { name: "Download" }));
    expect(saveFile).toHaveBeenCalledWith("recovery-key.txt", "EsTc abcd efgh\n", "text/plain");
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onSaved).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("checkbox", { name: "I have saved my recovery key" }));
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onSaved).toHaveBeenCalled();
});

test("issue 16.1/16.3: a room that hides its past says how many messages stay behind, is counted in its group, and offers “Leave anyway”", () => {
    const hidden = withHiddenHistory(
        plan(),
        new Map([
            [
                "!admin:a.example",
                {
                    periods: [{ visibility: "invited" as const, fromEventId: "$v", ongoing: true }],
                    count: 37,
                    atLeast: false,
                },
            ],
        ]),
    );
    const { onChange } = renderReview(hidden);
    const move = screen.getByRole("region", { name: "To move" });
    const row = within(move).getByText("Admin room").closest("li")!;
    expect(row.textContent).toContain("Moves — 37 earlier messages stay with the old account");
    expect(
        within(move).getByText(/1 of these rooms show members only what was sent after they were invited/),
    ).toBeTruthy();
    fireEvent.click(within(row).getByRole("button", { name: /Show details/i }));
    expect(row.textContent).toContain(
        "The new account won't see the 37 messages sent here before it was invited: this room shows members only what was sent after they were invited.",
    );
    fireEvent.click(within(row).getByRole("checkbox", { name: "Leave anyway — 37 messages stay behind" }));
    expect(onChange.mock.calls.at(-1)![0].options.acceptMissingKeys).toEqual(["!admin:a.example"]);
});
