/**
 * Issue 16 through the page: the rooms of the issue (tests/keys/hiddenRooms.ts) — the plan says in words how many
 * messages each will keep from the new account, counted in its group; the person ticks "Leave anyway" for one room;
 * with both recovery keys and "leave each old room", the old account stays in the others (needs action, with the
 * reason in the person's language), leaves the accepted one and the `shared` room, and the report shows the audit.
 */
import type { Page } from "playwright-core";

import { startHostServer, type HostServer } from "../../host/server.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Rooms, seedHiddenHistoryRooms } from "../keys/hiddenRooms.ts";
import { giveKeys, signInToElement } from "../signIn/support.ts";
import { closeBrowsers, openBrowserPage } from "./chromium.ts";

let host: HostServer;
let page: Page;
let seeded: Awaited<ReturnType<typeof seedHiddenHistoryRooms>>;

beforeAll(async () => {
    const bed = currentBed();
    seeded = await seedHiddenHistoryRooms();
    host = await startHostServer({
        config: {
            default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
        },
    });
    ({ page } = await openBrowserPage());
    await signInToElement(page, host.url, seeded.alice);
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
    await stopAllClients();
});

test("issue 16 on the page: the plan names what stays behind, “Leave anyway” lets one room go, the others keep the old account, the report shows the audit", async () => {
    const bed = currentBed();
    const { alice, aliceNew, recovery, rooms } = seeded;
    await page.goto(`${host.url}#/migrate-account`);
    await page.getByRole("textbox", { name: "New account", exact: true }).fill(aliceNew.userId);
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    const homeserver = page.getByRole("textbox", { name: "Its homeserver address" });
    await homeserver.waitFor();
    await homeserver.fill(bed.b.baseUrl);
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    await page.getByRole("textbox", { name: "Password of the new account" }).fill(aliceNew.password);
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await page.getByRole("heading", { name: "Review the plan" }).waitFor({ timeout: 30_000 });

    // The plan, before anything changes: each room's loss in words, and the group's count.
    const move = page.getByRole("region", { name: "To move" });
    const row = (text: string) => move.getByRole("listitem").filter({ hasText: text });
    expect(await row("Moves — 5 earlier messages stay with the old account").count()).toBe(1);
    expect(await row("Joined-only group").textContent()).toContain(
        "Moves — 4 earlier messages stay with the old account",
    );
    expect(await row("Invited, then shared").textContent()).toContain(
        "Moves — 2 earlier messages stay with the old account",
    );
    expect(await row("Shared encrypted room").textContent()).not.toContain("stay with the old account");
    expect(await move.getByText(/^3 of these rooms show members only what was sent after/).count()).toBe(1);
    await move.getByRole("button", { name: "Show details of Joined-only group" }).click();
    expect(
        await move
            .getByText(
                "The new account won't see the 4 messages sent here before it joined: this room shows members only what was sent after they joined.",
            )
            .count(),
    ).toBe(1);
    await move.getByRole("checkbox", { name: "Leave anyway — 4 messages stay behind" }).check();
    await page.getByRole("checkbox", { name: /^Leave each old room once the new account is safely in it/ }).check();
    await giveKeys(page, { old: recovery.alice, new: recovery.aliceNew });
    await page.getByRole("button", { name: "Start migration" }).click();
    await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 120_000 });

    // The report: the two rooms whose loss was not accepted need action, with the reason; the audit's totals.
    const needsAction = page.getByRole("region", { name: "Needs action" }).getByRole("listitem");
    expect((await needsAction.allTextContents()).sort()).toEqual([
        expect.stringContaining("The old account stays in"),
        expect.stringContaining("The old account stays in"),
    ]);
    expect(await needsAction.filter({ hasText: "Invited, then shared" }).count()).toBe(1);
    expect(
        await page
            .getByText(
                "History: the old account sees 16 messages in 4 rooms; the new account sees 5 and can decrypt 5; 11 not visible, 0 without key.",
            )
            .count(),
    ).toBe(1);

    // What the old account's server says: it is still in the direct chat and the mixed room, gone from the others.
    const oldHttp = new MatrixHttp(bed.a.baseUrl, alice.accessToken);
    const joined = (await oldHttp.request<{ joined_rooms: string[] }>("GET", "/joined_rooms")).joined_rooms;
    const inRoom = (name: keyof Rooms) => joined.includes(rooms[name]);
    expect({ dm: inRoom("dm"), mixed: inRoom("mixed"), group: inRoom("group"), shared: inRoom("shared") }).toEqual({
        dm: true,
        mixed: true,
        group: false,
        shared: false,
    });
}, 240_000);
