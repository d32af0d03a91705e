/**
 * Single sign-on for the new account, against a real Synapse whose only sign-in is an OpenID Connect provider —
 * a real `oidc-provider` on loopback (no stand-in in this file). Through the CLI (loopback redirect, a real
 * Chromium following its "Sign in at:" line) and through the module's page in Chromium (a real popup, the module's
 * callback page, postMessage). Each successful sign-in is followed by a real migration of a small account, and the
 * temporary session must be gone from the new account's device list afterwards.
 */
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";

import type { Page } from "playwright-core";

import { type HostServer, startHostServer } from "../../host/server.ts";
import { startLoopbackBrowser } from "../../src/cli/browserSignIn.ts";
import type { ServerApproval } from "../../src/keys/recoverySetup.ts";
import { discoverSignIn } from "../../src/sessions/discovery.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import type { SignedInSession } from "../../src/sessions/session.ts";
import { signIn } from "../../src/sessions/signIn.ts";
import {
    type RegisteredUser,
    extraHomeserverUrl,
    registerUser,
    startExtraHomeserver,
    uniqueLocalpart,
} from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type LoopbackProvider, startIdentityProvider, synapseSsoConfig } from "../bed/oidcProviders.ts";
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
    crossSigningOn,
    devicesOf,
    findNewAccount,
    membershipsOf,
    openMigrationPage,
    runAndFinish,
    signInAtProvider,
    smallOldAccount,
    startCli,
} from "./support.ts";

let idp: LoopbackProvider;
let sso: Awaited<ReturnType<typeof startExtraHomeserver>>;
let admin: RegisteredUser;
let host: HostServer;
const violations: AxeViolation[] = [];

beforeAll(async () => {
    const secret = randomBytes(16).toString("hex");
    idp = await startIdentityProvider({ synapseBaseUrl: extraHomeserverUrl(3), clientSecret: secret });
    // The module's callback page (page) and the CLI's loopback address are allowed redirect targets.
    sso = await startExtraHomeserver(
        currentBed(),
        `SSO-${process.pid}`,
        synapseSsoConfig(idp.issuer, secret, ["http://localhost:", "http://127.0.0.1:"]),
        3,
    );
    admin = await registerUser(sso.hs, uniqueLocalpart("admin"), { admin: true });
    host = await startHostServer({
        config: {
            default_server_config: {
                "m.homeserver": { base_url: currentBed().a.baseUrl, server_name: currentBed().a.serverName },
            },
        },
    });
});

afterEach(() => closeBrowsers());

afterAll(async () => {
    await host?.close();
    await sso?.stop();
    await idp?.close();
});

function newAccountName(): { localpart: string; userId: string } {
    const localpart = uniqueLocalpart("neu");
    return { localpart, userId: `@${localpart}:${sso.hs.serverName}` };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("CLI, single sign-on (real Synapse + real OpenID provider, real Chromium): signs in through a loopback redirect, migrates a small account, and signs its session out", async () => {
    const small = await smallOldAccount();
    const neu = newAccountName();
    const cli = startCli(
        [
            "--old-homeserver",
            small.alice.homeserver.baseUrl,
            "--new-user",
            neu.userId,
            "--new-homeserver",
            sso.hs.baseUrl,
            "--new-sign-in",
            "sso",
            "--yes",
        ],
        { MIGRATE_OLD_ACCESS_TOKEN: small.alice.accessToken },
    );
    const url = await cli.signInUrl();
    expect(url).toContain(`${sso.hs.baseUrl}/_matrix/client/v3/login/sso/redirect`);
    const { page } = await openBrowserPage();
    await page.goto(url);
    await signInAtProvider(page, neu.localpart);
    await page.getByText("Done — you can close this tab").waitFor();
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: expect.any(Number),
        stderr: expect.stringMatching(/2 migrated, 0 already done, 0 need action, 0 skipped, 0 failed/),
    });
    expect(result.stderr).not.toMatch(/loginToken|access_token/);
    expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: "join", team: "join" });
    expect(await devicesOf(sso.hs.baseUrl, admin.accessToken, neu.userId)).toEqual([]);
});

test("CLI, single sign-on (real Synapse + real OpenID provider): signing in as another account at the identity provider is refused and that session signed out", async () => {
    const small = await smallOldAccount();
    const neu = newAccountName();
    const other = newAccountName();
    const cli = startCli(
        [
            "--old-homeserver",
            small.alice.homeserver.baseUrl,
            "--new-user",
            neu.userId,
            "--new-homeserver",
            sso.hs.baseUrl,
            "--new-sign-in",
            "sso",
            "--yes",
        ],
        { MIGRATE_OLD_ACCESS_TOKEN: small.alice.accessToken },
    );
    const { page } = await openBrowserPage();
    await page.goto(await cli.signInUrl());
    await signInAtProvider(page, other.localpart);
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 2,
        stderr: expect.stringMatching(new RegExp(`signed in ${escapeRe(other.userId)}, not ${escapeRe(neu.userId)}`)),
    });
    expect(await devicesOf(sso.hs.baseUrl, admin.accessToken, other.userId)).toEqual([]);
    expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: null, team: null });
});

describe("in the module's page (Chromium, real popups)", () => {
    let page: Page;
    let network: BrowserRecord;
    let small: Awaited<ReturnType<typeof smallOldAccount>>;

    beforeEach(async () => {
        small = await smallOldAccount();
        ({ page, network } = await openBrowserPage());
        await openMigrationPage(page, host.url, small.alice);
    });

    test("single sign-on (real Synapse + real OpenID provider) in a popup: the login token comes back through the callback page, never in Element's address; then a real migration, and Finish removes the session", async () => {
        const neu = newAccountName();
        await findNewAccount(page, neu.userId, sso.hs.baseUrl);
        // A server whose only sign-in is single sign-on: one button per identity provider (no password), the token under Advanced.
        const methods = page.getByTestId("migration-sign-in-methods");
        expect(await methods.getByRole("button", { name: /^Continue with/ }).allTextContents()).toEqual([
            "Continue with Loopback IdP",
        ]);
        expect(await methods.getByLabel("Password of the new account").count()).toBe(0);
        expect(await methods.getByText("Advanced: use an access token").isVisible()).toBe(true);
        const redact = {
            [neu.userId]: "@neu:server-sso",
            [small.alice.userId]: "@alice:server-a",
            [sso.hs.baseUrl]: "https://server-sso",
        };
        violations.push(...(await recordScreen(page, "sign-in-methods-sso", { redact })));
        const popup = await clickForPopup(page, "Continue with Loopback IdP");
        await signInAtProvider(popup, neu.localpart);
        await popup.waitForEvent("close");
        expect(page.url()).not.toMatch(/loginToken/);
        expect(await page.evaluate(() => window.history.length)).toBeLessThan(10);
        const summary = await runAndFinish(page);
        expect(summary).toMatch(/2 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
        expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: "join", team: "join" });
        expect(await devicesOf(sso.hs.baseUrl, admin.accessToken, neu.userId)).toEqual([]);

        // Security scan: besides its host and the two homeservers (and the new one's name, asked for its .well-known),
        // only the identity provider the person was sent to; no token of the new account kept anywhere.
        expect(contactedOrigins(network)).toEqual(
            allowedOrigins(
                host.url,
                [currentBed().a, { baseUrl: sso.hs.baseUrl, lookedUp: sso.hs.serverName }],
                [idp.issuer],
            ),
        );
        const tokens = tokenSecrets(network.tokens, [new URL(sso.hs.baseUrl).origin]);
        expect(Object.keys(tokens).length).toBeGreaterThan(0);
        const places = await pageLeftovers(page, network);
        expect(secretsFound(places, { ...tokens, "the old account's password": small.alice.password })).toEqual([]);
    });

    test("single sign-on as another account: the page refuses it, signs that session out, and stays on sign-in", async () => {
        const neu = newAccountName();
        const other = newAccountName();
        await findNewAccount(page, neu.userId, sso.hs.baseUrl);
        const popup = await clickForPopup(page, "Continue with Loopback IdP");
        await signInAtProvider(popup, other.localpart);
        await page.getByText("That signed in a different account, so it was signed out again.").waitFor();
        expect(await page.getByTestId("migration-error").textContent()).toContain(other.userId);
        expect(await page.getByRole("heading", { name: "Review the plan" }).count()).toBe(0);
        expect(await devicesOf(sso.hs.baseUrl, admin.accessToken, other.userId)).toEqual([]);
    });

    test("closing the sign-in popup says so, and the methods are offered again", async () => {
        const neu = newAccountName();
        await findNewAccount(page, neu.userId, sso.hs.baseUrl);
        const popup = await clickForPopup(page, "Continue with Loopback IdP");
        await popup.close();
        await page.getByText("The sign-in window was closed before signing in finished.", { exact: true }).waitFor();
        await page.getByRole("button", { name: "Continue with Loopback IdP" }).waitFor();
    });
});

test("axe finds no violations on the sign-in screen of a single sign-on server, in the light or the dark theme", () => {
    expect(violations).toEqual([]);
});

test("recovery under single sign-on (real Synapse + real OpenID provider): a first cross-signing upload needs no approval; a reset opens Synapse's SSO approval page, and the upload is retried once it is done", async () => {
    const neu = newAccountName();
    const { page } = await openBrowserPage();
    const loopback = await startLoopbackBrowser(new PassThrough());
    let session: SignedInSession;
    try {
        const browser = {
            ...loopback,
            open: async (url: string, state: string) => {
                const back = loopback.open(url, state);
                await page.goto(url);
                await signInAtProvider(page, neu.localpart);
                return back;
            },
        };
        session = await signIn(
            await discoverSignIn(neu.userId, sso.hs.baseUrl),
            { method: "sso", browser },
            { deviceName: "Account migration (test)" },
        );
    } finally {
        await loopback.close();
    }
    const crypto = await crossSigningOn(session);
    try {
        const pages: string[] = [];
        const approval: ServerApproval = {
            askPassword: async () => {
                throw new Error("an SSO-only account was asked for a password");
            },
            openPage: (url) => {
                pages.push(url);
                void (async () => {
                    await page.goto(url);
                    // Signed in at the identity provider already: one click on Synapse's page, then straight back.
                    await page.getByRole("link", { name: "Continue with Loopback IdP" }).click();
                })();
            },
        };
        await crypto.bootstrap(false, approval);
        expect(pages).toEqual([]);
        await crypto.bootstrap(true, approval);
        expect(pages).toEqual([
            expect.stringMatching(
                new RegExp(
                    `^${escapeRe(sso.hs.baseUrl)}/_matrix/client/v3/auth/m\\.login\\.sso/fallback/web\\?session=`,
                ),
            ),
        ]);
    } finally {
        await crypto.stop();
        await session.signOut();
    }
});

test("CLI, --old-sign-in sso (real Synapse + real OpenID provider): an old account on an SSO-only server signs in through the browser too; its session is signed out at the end", async () => {
    const bed = currentBed();
    const old = await registerUser(sso.hs, uniqueLocalpart("old"));
    await new MatrixHttp(sso.hs.baseUrl, old.accessToken).request("POST", "/createRoom", {
        body: { name: "Old public room", preset: "public_chat" },
    });
    const neu = await registerUser(bed.b, uniqueLocalpart("neu"));
    const cli = startCli(
        [
            "--old-homeserver",
            sso.hs.baseUrl,
            "--old-user",
            old.userId,
            "--old-sign-in",
            "sso",
            "--new-user",
            neu.userId,
            "--new-homeserver",
            bed.b.baseUrl,
            "--dry-run",
        ],
        { MIGRATE_NEW_PASSWORD: neu.password },
    );
    const { page } = await openBrowserPage();
    await page.goto(await cli.signInUrl());
    await signInAtProvider(page, old.userId.slice(1, old.userId.indexOf(":")));
    const result = await cli.done;
    expect(result.stderr).toMatch(/1 rooms: 1 to migrate/);
    expect(result.stderr).toMatch(/Dry run — nothing was changed/);
    expect(
        (await devicesOf(sso.hs.baseUrl, admin.accessToken, old.userId)).filter(
            (d) => d.display_name === "Account migration (CLI)",
        ),
    ).toEqual([]);
});
