/**
 * The whole product in headless Chromium: signed in to the host page as the old account, the user types
 * `/migrate @new` in a room, follows the composer's offer to the module's page, signs in the new account, reviews the
 * plan, gives both recovery keys and starts. Then the servers are asked what happened, and a fresh device of the new
 * account restores its backup and decrypts the old history.
 */
import type { Page } from "playwright-core";

import { startHostServer, type HostServer } from "../../host/server.ts";
import { stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { getState } from "../engine/scenario.ts";
import { DEMO_CONVERSATIONS, type DemoAccounts, randomDemoAccountSpecs, seedDemoAccounts } from "../fixtures/demoAccounts.ts";
import { decryptedBodies, freshDeviceFromRecoveryKey } from "../keys/history.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { closeBrowsers, openBrowserPage } from "./chromium.ts";

let host: HostServer;
let demo: DemoAccounts;
let page: Page;
let logs: string[];
const signInButton = () => page.getByRole("button", { name: "Sign in to the new account" });

beforeAll(async () => {
    const bed = currentBed();
    demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    host = await startHostServer({
        config: { default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } } },
    });
    ({ page, logs } = await openBrowserPage());
    await page.goto(host.url);
    await page.fill("input[name=username]", demo.users.alice.userId);
    await page.fill("input[name=password]", demo.users.alice.password);
    await page.click("button[type=submit]");
    await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
    await stopAllClients();
});

test("typing /migrate in a room offers to open the migration for that account", async () => {
    await page.locator(".mx_LeftPanel li", { hasText: "Project team" }).click();
    const composer = page.getByLabel("Send a message…");
    await composer.fill(`/migrate ${demo.users.aliceNew.userId}`);
    const offer = page.getByTestId("migration-composer-offer");
    await offer.waitFor();
    expect(await offer.textContent()).toContain(`Move this account to ${demo.users.aliceNew.userId}?`);
    await offer.getByRole("button", { name: "Open account migration" }).click();
    await page.getByTestId("migration-page").waitFor();
    expect(page.url()).toMatch(/#\/migrate-account$/);
    expect(await page.inputValue("input[name=newUserId]")).toBe(demo.users.aliceNew.userId);
});

test("a wrong password for the new account is shown plainly and nothing moves on", async () => {
    await page.fill("input[name=newPassword]", "not the password");
    await signInButton().click();
    const error = page.getByTestId("migration-error");
    await error.waitFor();
    // The new server is named by an IP literal whose TLS certificate the browser does not trust, so discovery fails
    // first and the page asks for the homeserver's address.
    expect(await error.textContent()).toMatch(/could not be found from its name/);
    await page.fill("input[name=homeserverUrl]", currentBed().b.baseUrl);
    await signInButton().click();
    await page.getByText(/Wrong password for/).waitFor();
    expect(await page.getByTestId("migration-review").count()).toBe(0);
});

test("sign in, review, give both recovery keys, run: the report and the servers agree", async () => {
    await page.fill("input[name=newPassword]", demo.users.aliceNew.password);
    await signInButton().click();
    await page.getByTestId("migration-review").waitFor({ timeout: 30_000 });
    const summary = await page.getByTestId("migration-plan-summary").textContent();
    expect(summary).toMatch(/7 rooms: 7 to move/);
    // Alice moderates Town square but may not change its power levels: the plan says so, with a message for an admin.
    const town = page.locator(`[data-room-id="${demo.rooms.townSquare}"]`);
    expect(await town.textContent()).toMatch(/may not change power levels/);
    expect(await town.textContent()).toMatch(/Could you give .* power level 50/);

    await page.fill("input[name=oldRecoveryKey]", demo.recoveryKeys.alice);
    await page.fill("input[name=newRecoveryKey]", demo.recoveryKeys.aliceNew);
    await page.getByTestId("migration-start").click();
    const report = page.getByTestId("migration-report");
    await report.waitFor({ timeout: 100_000 });
    expect(await page.getByTestId("migration-report-summary").textContent()).toMatch(/6 moved, 0 already done, 1 need action, 0 skipped, 0 failed/);
    expect(await page.getByTestId("migration-report-keys").textContent()).toMatch(new RegExp(`${demo.aliceMegolmSessions} keys found, ${demo.aliceMegolmSessions} handed over, 0 missing`));
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);

    // What the servers say: the new account is in every room, with alice's level where she could hand it over.
    const bed = currentBed();
    const neu = { userId: demo.users.aliceNew.userId, http: new MatrixHttp(bed.b.baseUrl, (await freshDeviceFromRecoveryKey(bed.b, demo.users.aliceNew, demo.recoveryKeys.aliceNew)).device.accessToken) };
    for (const roomId of Object.values(demo.rooms)) {
        const member = await getState(neu as never, roomId, "m.room.member", neu.userId);
        expect({ roomId, membership: member.membership }).toEqual({ roomId, membership: "join" });
    }
    const direct = await neu.http.request<Record<string, string[]>>("GET", `/user/${encodeURIComponent(neu.userId)}/account_data/m.direct`);
    expect(direct[demo.users.bob.userId]).toEqual([demo.rooms.dmBob]);
    expect(direct[demo.users.carol.userId]).toEqual([demo.rooms.dmCarol]);
});

test("a fresh device of the new account reads the old encrypted history with only its recovery key", async () => {
    const bed = currentBed();
    const fresh = await freshDeviceFromRecoveryKey(bed.b, demo.users.aliceNew, demo.recoveryKeys.aliceNew);
    expect(fresh.imported).toBe(demo.aliceMegolmSessions);
    const { bodies, failures } = await decryptedBodies(fresh.client, fresh.device, demo.rooms.projectTeam);
    expect(failures).toBe(0);
    expect(bodies.sort()).toEqual(DEMO_CONVERSATIONS.projectTeam.map(([, text]) => text).sort());
});
