/**
 * OAuth 2.0 sign-in in the module's page (Chromium, real popups), against a real Synapse in Matrix Authentication
 * Service mode whose issuer is the MAS STAND-IN of tests/bed/oidcProviders.ts (real `oidc-provider`; MAS itself
 * cannot be installed here). Authorization code + PKCE in a popup that lands on the module's callback page, and the
 * device authorization grant approved in another window; each followed by a real migration of a small account.
 * Access tokens live 3 s, so the page's session refreshes while it plans and runs. The sign-in screens met here (the
 * methods of an OAuth 2.0 server, the wait for the popup, the code) are recorded and scanned with axe.
 */
import { randomBytes } from "node:crypto";

import type { Page } from "playwright-core";

import { type HostServer, startHostServer } from "../../host/server.ts";
import { extraHomeserverUrl, startExtraHomeserver, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type MasStandIn, startMasStandIn, synapseMasConfig } from "../bed/oidcProviders.ts";
import { secretsFound, tokenSecrets } from "../bed/secretScan.ts";
import {
    type BrowserRecord,
    allowedOrigins,
    closeBrowsers,
    contactedOrigins,
    openBrowserPage,
    pageLeftovers,
} from "../browser/chromium.ts";
import { type AxeViolation, recordScreen } from "../browser/screens.ts";
import {
    clickForPopup,
    devicesOf,
    findNewAccount,
    membershipsOf,
    openMigrationPage,
    planReview,
    runAndFinish,
    signInAtProvider,
    smallOldAccount,
} from "./support.ts";

let standIn: MasStandIn;
let mas: Awaited<ReturnType<typeof startExtraHomeserver>>;
let host: HostServer;
let page: Page;
let logs: string[];
let network: BrowserRecord;
let small: Awaited<ReturnType<typeof smallOldAccount>>;
const violations: AxeViolation[] = [];

/** Records the page's screen with run-specific values (accounts, ports, the code) as stable placeholders. */
async function record(name: string, values: Record<string, string>): Promise<void> {
    const redact = {
        ...values,
        [small.alice.userId]: "@alice:server-a",
        [standIn.issuer]: "https://auth.server-mas",
        [mas.hs.baseUrl]: "https://server-mas",
        [mas.hs.serverName]: "server-mas",
    };
    violations.push(...(await recordScreen(page, name, { redact })));
}

beforeAll(async () => {
    const secret = randomBytes(16).toString("hex");
    standIn = await startMasStandIn({ synapseBaseUrl: extraHomeserverUrl(4), secret, accessTokenTtl: 3 });
    mas = await startExtraHomeserver(currentBed(), `MAS-PAGE-${process.pid}`, synapseMasConfig(standIn, secret), 4);
    host = await startHostServer({
        config: {
            default_server_config: {
                "m.homeserver": { base_url: currentBed().a.baseUrl, server_name: currentBed().a.serverName },
            },
        },
    });
});

beforeEach(async () => {
    small = await smallOldAccount();
    ({ page, logs, network } = await openBrowserPage());
    await openMigrationPage(page, host.url, small.alice);
});

afterEach(() => closeBrowsers());

afterAll(async () => {
    await host?.close();
    await mas?.stop();
    await standIn?.close();
});

function newAccountName(): { localpart: string; userId: string } {
    const localpart = uniqueLocalpart("neu");
    return { localpart, userId: `@${localpart}:${mas.hs.serverName}` };
}

test("OAuth 2.0 authorization code + PKCE in a popup (MAS stand-in, real Synapse): offered first, signs in through the callback page, migrates across token refreshes, and Finish revokes the session", async () => {
    const neu = newAccountName();
    await findNewAccount(page, neu.userId, mas.hs.baseUrl);
    // The server's recommendation comes first; an access token stays under "Advanced".
    const buttons = await page.getByTestId("migration-sign-in-methods").getByRole("button").allTextContents();
    expect(buttons.slice(0, 2)).toEqual([
        `Continue with ${mas.hs.serverName}`,
        "Sign in with a code instead (approve on another device)",
    ]);
    await record("sign-in-methods-oauth", { [neu.userId]: "@neu:server-mas" });
    const refreshesBefore = standIn.refreshes();
    const popup = await clickForPopup(page, `Continue with ${mas.hs.serverName}`);
    // Issue 15.1: the server's page gets no handle on Element's window (no script through it, no tabnabbing).
    await popup.waitForURL((url) => url.href.startsWith(standIn.issuer));
    expect(await popup.evaluate(() => window.opener === null)).toBe(true);
    // While the popup is open, the page waits for it (and can stop waiting).
    await page
        .getByTestId("migration-sign-in-waiting")
        .getByText("Finish signing in in the window that opened.")
        .waitFor();
    await record("sign-in-waiting-popup", { [neu.userId]: "@neu:server-mas" });
    await signInAtProvider(popup, neu.localpart);
    await popup.waitForEvent("close");
    expect(page.url()).not.toMatch(/code=|state=/);
    await planReview(page);
    // Outlive the first access token before starting: the run must refresh to work.
    await page.waitForTimeout(3500);
    const summary = await runAndFinish(page);
    expect(summary).toMatch(/2 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
    expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: "join", team: "join" });
    expect(standIn.refreshes()).toBeGreaterThan(refreshesBefore);
    expect(await devicesOf(mas.hs.baseUrl, standIn.adminToken, neu.userId)).toEqual([]);
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);

    // Security scan: besides its host and the two homeservers (and the new one's name, asked for its .well-known),
    // only the sign-in service the person was sent to; none of the access or refresh tokens it issued is kept.
    expect(contactedOrigins(network)).toEqual(
        allowedOrigins(
            host.url,
            [currentBed().a, { baseUrl: mas.hs.baseUrl, lookedUp: mas.hs.serverName }],
            [standIn.issuer],
        ),
    );
    const origin = (url: string) => new URL(url).origin;
    const tokens = tokenSecrets(network.tokens, [origin(standIn.issuer), origin(mas.hs.baseUrl)]);
    // Refreshed along the way: several access tokens and refresh tokens.
    expect(Object.keys(tokens).length).toBeGreaterThan(2);
    const places = await pageLeftovers(page, network);
    expect(secretsFound(places, tokens)).toEqual([]);
});

test("OAuth 2.0 device authorization grant (MAS stand-in, real Synapse): the page shows a code and a link, polls while it is approved in another window, then migrates", async () => {
    const neu = newAccountName();
    await findNewAccount(page, neu.userId, mas.hs.baseUrl);
    await page.getByRole("button", { name: "Sign in with a code instead (approve on another device)" }).click();
    const code = (await page.getByTestId("migration-device-code").textContent()) ?? "";
    expect(code).toMatch(/\S{4,}/);
    await record("sign-in-device-code", { [neu.userId]: "@neu:server-mas", [code]: "ABCD-EFGH" });
    const approval = page.waitForEvent("popup");
    await page.getByRole("link", { name: "Open the approval page" }).click();
    const other = await approval;
    await other.getByRole("button", { name: "Continue" }).click();
    await signInAtProvider(other, neu.localpart);
    await other.getByText("You can close this window").waitFor();
    const summary = await runAndFinish(page);
    expect(summary).toMatch(/2 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
    expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: "join", team: "join" });
    expect(await devicesOf(mas.hs.baseUrl, standIn.adminToken, neu.userId)).toEqual([]);
});

test("cancelling a sign-in with a code goes back to the methods without an error", async () => {
    const neu = newAccountName();
    await findNewAccount(page, neu.userId, mas.hs.baseUrl);
    await page.getByRole("button", { name: "Sign in with a code instead (approve on another device)" }).click();
    await page.getByTestId("migration-device-code").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByTestId("migration-sign-in-methods").waitFor();
    expect(await page.getByTestId("migration-error").count()).toBe(0);
});

test("axe finds no violations on the sign-in screens of an OAuth 2.0 server, in the light or the dark theme", () => {
    expect(violations).toEqual([]);
});
