/**
 * Issue 16.4 through the page: with the rooms of the issue (tests/keys/hiddenRooms.ts), the plan offers “Export what
 * stays behind”; with the old recovery key given (the host's fresh Element session has no keys of its own), it
 * downloads one JSON and one HTML file holding exactly the messages the new account will not see, decrypted; “Export
 * these messages” in a room's details downloads that room alone. Nothing is started: the export comes before any leave.
 */
import { readFileSync } from "node:fs";

import type { Download, Page } from "playwright-core";

import { startHostServer, type HostServer } from "../../host/server.ts";
import type { ExportedMessage } from "../../src/engine/historyExport.ts";
import { stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { seedHiddenHistoryRooms } from "../keys/hiddenRooms.ts";
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

/** Clicks and collects the two downloads (JSON and HTML) the click makes, by file name. */
async function downloadsOf(click: () => Promise<void>): Promise<Record<string, string>> {
    const got: Download[] = [];
    const twoFiles = new Promise<void>((resolve) => {
        const on = (d: Download) => {
            got.push(d);
            if (got.length === 2) {
                page.off("download", on);
                resolve();
            }
        };
        page.on("download", on);
    });
    await click();
    await twoFiles;
    const out: Record<string, string> = {};
    for (const d of got) out[d.suggestedFilename()] = readFileSync(await d.path(), "utf8");
    return out;
}

interface ExportDoc {
    rooms: Array<{ roomId: string; messages: ExportedMessage[]; undecryptable: number }>;
}

test("issue 16.4 on the page: “Export what stays behind” downloads the hidden messages decrypted, as JSON and HTML; one room alone from its details", async () => {
    const bed = currentBed();
    const started = Date.now();
    const { aliceNew, recovery, rooms } = seeded;
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

    expect(await page.getByText(/The new account will never see 11 messages in 3 rooms/).count()).toBe(1);
    await giveKeys(page, { old: recovery.alice, new: recovery.aliceNew });
    const all = await downloadsOf(() => page.getByRole("button", { name: "Export what stays behind" }).click());
    expect(Object.keys(all).sort()).toEqual(["hidden-history.html", "hidden-history.json"]);
    const doc = JSON.parse(all["hidden-history.json"]!) as ExportDoc;
    const bodies = (roomId: string) =>
        doc.rooms.find((r) => r.roomId === roomId)?.messages.map((m) => m.content.body ?? "(undecryptable)");
    expect({
        dm: bodies(rooms.dm),
        group: bodies(rooms.group),
        mixed: bodies(rooms.mixed),
        shared: bodies(rooms.shared),
    }).toEqual({
        dm: ["dm 1", "dm 2", "dm 3", "dm 4", "dm 5"],
        group: ["group 1", "group 2", "group 3", "group 4"],
        mixed: ["mixed 1", "mixed 2"],
        shared: undefined,
    });
    expect(doc.rooms.find((r) => r.roomId === rooms.dm)!.messages.every((m) => m.encrypted)).toBe(true);
    const html = all["hidden-history.html"]!;
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).toContain("dm 5");
    expect(html).not.toContain("<script");
    await page
        .getByRole("status")
        .filter({ hasText: "Saved 11 messages of 3 rooms: hidden-history.json, hidden-history.html." })
        .waitFor();

    // One room from its details.
    const move = page.getByRole("region", { name: "To move" });
    await move.getByRole("button", { name: "Show details of Joined-only group" }).click();
    const one = await downloadsOf(() => move.getByRole("button", { name: "Export these messages" }).click());
    const json = Object.entries(one).find(([name]) => name.endsWith(".json"))!;
    expect(json[0]).toMatch(/^hidden-history-.+\.json$/);
    const single = JSON.parse(json[1]) as ExportDoc;
    expect(single.rooms.map((r) => [r.roomId, r.messages.length])).toEqual([[rooms.group, 4]]);
    process.stderr.write(`issue 16.4 page export test: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 180_000);
