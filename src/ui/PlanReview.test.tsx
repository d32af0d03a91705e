/**
 * @jest-environment jsdom
 */
/** The review screens' own logic (no network): what they show for a plan and key status, and what they report back. */
import { jest } from "@jest/globals";
import React from "react";
import { fireEvent, render, screen } from "@testing-library/react";

import { buildPlan, type MigrationPlan } from "../engine/plan.ts";
import type { RoomSource } from "../engine/snapshot.ts";
import { englishTranslate } from "../i18n/index.ts";
import { KeysPanel } from "./KeysPanel.tsx";
import { PlanReview } from "./PlanReview.tsx";

const OLD = "@old:a.example";
const NEW = "@new:b.example";

function room(roomId: string, name: string, joinRule: string, levels: Record<string, number>, extra: RoomSource["state"] = []): RoomSource {
    return {
        roomId,
        membership: "join",
        accountData: {},
        state: [
            { type: "m.room.create", state_key: "", sender: "@creator:a.example", content: { room_version: "10" } },
            { type: "m.room.name", state_key: "", sender: OLD, content: { name } },
            { type: "m.room.join_rules", state_key: "", sender: OLD, content: { join_rule: joinRule } },
            { type: "m.room.power_levels", state_key: "", sender: OLD, content: { users: levels, invite: 50, events: { "m.room.power_levels": 100 } } },
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
            rooms: [room("!admin:a.example", "Admin room", "invite", { [OLD]: 100 }), room("!locked:a.example", "Locked room", "invite", { [OLD]: 0 })],
        },
        NEW,
    );
}

test("the review lists each room with its state, explains a blocked one with a message for an admin, and reports choices", () => {
    const onChange = jest.fn<(p: MigrationPlan) => void>();
    const onRun = jest.fn<(dryRun: boolean) => void>();
    render(<PlanReview t={englishTranslate} plan={plan()} onChange={onChange} keys={null} busy={false} onRun={onRun} />);

    expect(screen.getByTestId("migration-plan-summary").textContent).toBe(
        "2 rooms: 1 to move, 0 already done, 1 need someone's help, 0 replaced by newer rooms. Invites needed: 1.",
    );
    const locked = screen.getByText("Locked room").closest("li")!;
    expect(locked.textContent).toContain("The old account may not invite anyone to “Locked room” (!locked:a.example).");
    expect(locked.textContent).toContain(`Could you invite ${NEW} to “Locked room”`);
    // A blocked room cannot be chosen; a ready one can be left out.
    const [adminBox, lockedBox] = screen.getAllByRole("checkbox").slice(0, 2) as HTMLInputElement[];
    expect(lockedBox.disabled).toBe(true);
    fireEvent.click(adminBox);
    expect(onChange.mock.calls[0][0].rooms.find((r) => r.roomId === "!admin:a.example")!.selected).toBe(false);

    fireEvent.click(screen.getByLabelText(/Leave each old room/));
    expect(onChange.mock.calls[1][0].options.leaveOldRooms).toBe(true);
    fireEvent.click(screen.getByText("Try it first (changes nothing)"));
    expect(onRun).toHaveBeenCalledWith(true);
});

test("keys: without the new recovery key the risk is shown; without a new backup, the three ways forward", () => {
    const common = {
        t: englishTranslate,
        choices: {},
        onChange: () => undefined,
        busy: false,
        onCheckAgain: () => undefined,
        onSetUpRecovery: async () => "",
        onExportKeyFile: async () => 0,
    };
    const { rerender } = render(<KeysPanel {...common} status={{ oldBackup: true, oldBackupKeyInSession: false, newBackup: true, oldSessionKeys: true }} />);
    expect(screen.getByText(/could read the handed-over keys/)).toBeTruthy();
    expect(screen.getByLabelText(/Old account's recovery key/)).toBeTruthy();
    expect(screen.queryByTestId("migration-no-backup")).toBeNull();

    rerender(<KeysPanel {...common} status={{ oldBackup: true, oldBackupKeyInSession: true, newBackup: false, oldSessionKeys: true }} />);
    const options = screen.getByTestId("migration-no-backup");
    expect(options.textContent).toMatch(/turn on key storage/);
    expect(screen.getByText("Set up recovery")).toBeTruthy();
    const download = screen.getByText("Download key file") as HTMLButtonElement;
    expect(download.disabled).toBe(true); // no passphrase yet
    fireEvent.change(screen.getByLabelText(/Passphrase for the file/), { target: { value: "long enough" } });
    expect(download.disabled).toBe(false);
    expect(screen.queryByLabelText(/Old account's recovery key/)).toBeNull(); // this session holds the backup key
});
