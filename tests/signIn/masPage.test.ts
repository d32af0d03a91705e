/**
 * The module's page (headless Chromium, real popups, the project's Element stand-in) against the REAL Matrix
 * Authentication Service (tests/bed/mas.ts): a same-server migration on the MAS-backed Synapse — the old account
 * signed in to Element with its MAS password through the compat API (the bed's reverse proxy), the new account by
 * OAuth 2.0 authorization code + PKCE in a popup at MAS's own pages, landing on the module's callback page.
 * Same-server only: the MAS bed's Synapse cannot federate with the bed's TLS servers. MAS issues access tokens
 * that live 3 s here, so the page's session must refresh during the run (MAS's database shows it did).
 */
import type { Page } from "playwright-core";

import { type HostServer, startHostServer } from "../../host/server.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type RealMas, startRealMas } from "../bed/mas.ts";
import { closeBrowsers, openBrowserPage } from "../browser/chromium.ts";
import { api, tokenOf } from "./masSupport.ts";
import { clickForPopup, findNewAccount, openMigrationPage, planReview, runAndFinish } from "./support.ts";

let mas: RealMas;
let host: HostServer;
let page: Page;
let logs: string[];

beforeAll(async () => {
    mas = await startRealMas(currentBed().stateDir, { accessTokenTtl: 3 });
    host = await startHostServer({
        config: {
            default_server_config: { "m.homeserver": { base_url: mas.proxyUrl, server_name: mas.serverName } },
        },
    });
}, 60_000);

afterEach(() => closeBrowsers());

afterAll(async () => {
    await host?.close();
    await mas?.stop();
});

test("page on the real MAS: the new account signs in by authorization code + PKCE in a popup at MAS's own login and consent pages, lands on the callback page, and a same-server migration runs across token refreshes (3 s tokens, rotated at MAS); Finish revokes the session", async () => {
    const [oldUser, newUser] = mas.users;
    const seed = await tokenOf(mas, 0);
    // At once: the seed token lives 3 s.
    const rooms = [
        (await api(mas, seed, "POST", "createRoom", { name: "mas-page-a", preset: "private_chat" })).room_id as string,
    ];
    ({ page, logs } = await openBrowserPage());
    await openMigrationPage(page, host.url, oldUser);
    await findNewAccount(page, newUser.userId, mas.proxyUrl);
    const popup = await clickForPopup(page, `Continue with ${mas.serverName}`);
    const visited: string[] = [];
    popup.on("framenavigated", (frame) => visited.push(frame.url()));
    await popup.waitForURL((url) => url.href.startsWith(mas.issuer));
    expect(await popup.evaluate(() => window.opener === null)).toBe(true);
    await popup.locator('input[name="username"]').fill(newUser.localpart);
    await popup.locator('input[name="password"]').fill(newUser.password);
    await popup.locator('input[name="password"]').press("Enter");
    await popup.getByRole("button", { name: "Continue" }).click();
    await popup.waitForEvent("close");
    const signedInAt = Date.now();
    // MAS sent the popup back to the module's callback page (on Element's origin), which closed it.
    expect(visited.some((url) => url.startsWith(`${new URL(host.url).origin}/`) && url.includes("callback"))).toBe(
        true,
    );
    expect(page.url()).not.toMatch(/code=|state=/);
    await planReview(page);
    // Outlive the first access token before starting: the run must refresh to work.
    await page.waitForTimeout(3500);
    const summary = await runAndFinish(page);
    expect(Date.now() - signedInAt).toBeGreaterThan(3000);
    // MAS's own record: the page's session had more than one access token, each refresh consuming the refresh
    // token before it (MAS rotates them).
    const [[accessTokens, refreshTokens, consumed]] = await mas.sql(`
        SELECT (SELECT count(*) FROM oauth2_access_tokens a WHERE a.oauth2_session_id = s.oauth2_session_id),
               (SELECT count(*) FROM oauth2_refresh_tokens r WHERE r.oauth2_session_id = s.oauth2_session_id),
               (SELECT count(r.consumed_at) FROM oauth2_refresh_tokens r WHERE r.oauth2_session_id = s.oauth2_session_id)
        FROM oauth2_sessions s JOIN oauth2_clients c USING (oauth2_client_id)
        WHERE c.client_name = 'Account migration (Element)'`);
    expect(Number(accessTokens)).toBeGreaterThanOrEqual(2);
    expect({ refreshTokens: Number(refreshTokens), consumed: Number(consumed) }).toEqual({
        refreshTokens: Number(accessTokens),
        consumed: Number(accessTokens) - 1,
    });
    expect(summary).toMatch(/1 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
    const neu = await tokenOf(mas, 1);
    expect((await api(mas, neu, "GET", "joined_rooms")).joined_rooms).toEqual(expect.arrayContaining(rooms));
    // Finish revoked the page's session at MAS, which removes its device (Synapse hears of it shortly after).
    const pageDevices = async () =>
        ((await api(mas, neu, "GET", "devices")).devices as Array<{ display_name?: string }>).filter(
            (d) => d.display_name === "Account migration (Element)",
        );
    const deadline = Date.now() + 10_000;
    while ((await pageDevices()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await pageDevices()).toEqual([]);
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
});

test("page on the real MAS: the device authorization grant — the page shows MAS's code and link, polls (MAS answers pending polls with HTTP 403) while the code is approved at MAS's pages in another window, then migrates", async () => {
    // Another old account than the first test's: its journal holds no finished migration.
    const [, newUser, oldUser] = mas.users;
    const seed = await tokenOf(mas, 2);
    const room = (await api(mas, seed, "POST", "createRoom", { name: "mas-page-device", preset: "private_chat" }))
        .room_id as string;
    ({ page, logs } = await openBrowserPage());
    await openMigrationPage(page, host.url, oldUser);
    await findNewAccount(page, newUser.userId, mas.proxyUrl);
    await page.getByRole("button", { name: "Sign in with a code instead (approve on another device)" }).click();
    const code = (await page.getByTestId("migration-device-code").textContent()) ?? "";
    expect(code).toMatch(/\S{4,}/);
    const approval = page.waitForEvent("popup");
    await page.getByRole("link", { name: "Open the approval page" }).click();
    const other = await approval;
    await other.waitForURL((url) => url.href.startsWith(mas.issuer));
    // The link carries the code (MAS's verification_uri_complete): MAS goes on to its login, or asks to confirm it.
    const codeForm = other.locator('form:has(input[name="code"]) button[type="submit"]');
    const login = other.locator('input[name="username"]');
    await Promise.race([codeForm.waitFor(), login.waitFor()]);
    if (await codeForm.isVisible()) await codeForm.click();
    await other.locator('input[name="username"]').fill(newUser.localpart);
    await other.locator('input[name="password"]').fill(newUser.password);
    await other.locator('input[name="password"]').press("Enter");
    // MAS asks the person to confirm the device is theirs before it allows it.
    await other.locator('input[name="confirm_device"]').check();
    await other.locator('button[name="action"][value="consent"]').click();
    const summary = await runAndFinish(page);
    expect(summary).toMatch(/1 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
    const neu = await tokenOf(mas, 1);
    expect((await api(mas, neu, "GET", "joined_rooms")).joined_rooms).toContain(room);
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
});
