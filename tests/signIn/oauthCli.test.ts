/**
 * OAuth 2.0 sign-in through the CLI, against a real Synapse in Matrix Authentication Service mode whose issuer is the
 * MAS STAND-IN of tests/bed/oidcProviders.ts (built on the real `oidc-provider`). The device grant and another account's
 * approval run on the REAL MAS (tests/signIn/masCli.test.ts); what stays here is what that bed cannot do yet (named
 * in each title).
 * A real Chromium (a fresh profile per test: no sign-in carried over) follows the CLI's "Sign in at:" line. Each
 * sign-in is followed by a real migration of a small account. Access tokens live 3 s, so sessions refresh mid-run
 * (refresh mid-run on the real MAS: tests/signIn/masRefresh.test.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import type { Page } from "playwright-core";

import type { ServerApproval } from "../../src/keys/recoverySetup.ts";
import { discoverSignIn } from "../../src/sessions/discovery.ts";
import { signIn } from "../../src/sessions/signIn.ts";
import { extraHomeserverUrl, startExtraHomeserver, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type MasStandIn, startMasStandIn, synapseMasConfig } from "../bed/oidcProviders.ts";
import { closeBrowsers, openBrowserPage } from "../browser/chromium.ts";
import {
    type SmallAccount,
    crossSigningOn,
    devicesOf,
    membershipsOf,
    signInAtProvider,
    smallOldAccount,
    startCli,
} from "./support.ts";
import { cliArgs } from "../support/cli.ts";

const TOKEN_LIFETIME_S = 3;
const workDir = mkdtempSync(path.join(tmpdir(), "migrate-oauth-cli-"));
let standIn: MasStandIn;
let mas: Awaited<ReturnType<typeof startExtraHomeserver>>;

beforeAll(async () => {
    const secret = randomBytes(16).toString("hex");
    standIn = await startMasStandIn({
        synapseBaseUrl: extraHomeserverUrl(4),
        secret,
        accessTokenTtl: TOKEN_LIFETIME_S,
    });
    mas = await startExtraHomeserver(currentBed(), `MAS-CLI-${process.pid}`, synapseMasConfig(standIn, secret), 4);
});

afterEach(() => closeBrowsers());

afterAll(async () => {
    await mas?.stop();
    await standIn?.close();
});

function args(small: SmallAccount, newUserId: string, method: string, report: string): string[] {
    return cliArgs(
        { oldHomeserver: small.alice.homeserver.baseUrl, newUser: newUserId, newHomeserver: mas.hs.baseUrl },
        ...["--new-sign-in", method, "--yes", "--report", report],
    );
}

function newAccountName(): { localpart: string; userId: string } {
    const localpart = uniqueLocalpart("neu");
    return { localpart, userId: `@${localpart}:${mas.hs.serverName}` };
}

async function freshPage(): Promise<Page> {
    return (await openBrowserPage()).page;
}

test("CLI, OAuth 2.0 authorization code + PKCE (MAS stand-in: a migration from another server, which the real MAS bed's Synapse cannot federate with, in a real Chromium; 3 s tokens — refresh on the real MAS is in masRefresh.test.ts; real Synapse): signs in through a loopback redirect, sets up recovery for an account without a password, migrates across token refreshes, and revokes its session", async () => {
    const small = await smallOldAccount(6);
    const neu = newAccountName();
    const report = path.join(workDir, "oauth.json");
    const refreshesBefore = standIn.refreshes();
    const cli = startCli([...args(small, neu.userId, "oauth", report), "--set-up-new-backup"], {
        MIGRATE_OLD_ACCESS_TOKEN: small.alice.accessToken,
    });
    const url = await cli.signInUrl();
    expect(url).toMatch(/code_challenge_method=S256/);
    expect(url).toContain(encodeURIComponent("http://127.0.0.1:"));
    const page = await freshPage();
    await page.goto(url);
    await signInAtProvider(page, neu.localpart);
    await page.getByText("Done — you can close this tab").waitFor();
    const signedInAt = Date.now();
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 0,
        stderr: expect.stringMatching(/8 migrated/),
    });
    expect(result.stderr).toMatch(/Recovery was set up for/);
    // No token reaches the terminal.
    expect(result.stderr + result.stdout).not.toMatch(/access_token|refresh_token|[?&]code=/);
    expect(
        JSON.parse(readFileSync(report, "utf8")).rooms.every((r: { outcome: string }) => r.outcome === "migrated"),
    ).toBe(true);
    expect(Object.values(await membershipsOf(small, neu.userId))).toEqual(Array(8).fill("join"));
    // The run outlived its access tokens and went on: the session refreshed in the middle of it.
    expect(Date.now() - signedInAt).toBeGreaterThan(TOKEN_LIFETIME_S * 1000);
    expect(standIn.refreshes()).toBeGreaterThan(refreshesBefore);
    // Finished: the temporary session's tokens were revoked, which removed its device.
    expect(await devicesOf(mas.hs.baseUrl, standIn.adminToken, neu.userId)).toEqual([]);
});

test("CLI, OAuth 2.0 (MAS stand-in, until the real-MAS tests drive refusing a code-flow request): refusing on the sign-in page gives a clear error and exit 2", async () => {
    const small = await smallOldAccount();
    const neu = newAccountName();
    const cli = startCli(args(small, neu.userId, "oauth", path.join(workDir, "refused.json")), {
        MIGRATE_OLD_ACCESS_TOKEN: small.alice.accessToken,
    });
    const page = await freshPage();
    await page.goto(await cli.signInUrl());
    await signInAtProvider(page, null);
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 2,
        stderr: expect.stringMatching(/sign-in service refused \(access was denied\)/),
    });
});

test("recovery under OAuth 2.0 (MAS stand-in: the reset approval on MAS's own account page is not driven yet; real Synapse): a first cross-signing upload needs no approval; a reset opens the account page, and the upload is retried once it is approved there", async () => {
    const neu = newAccountName();
    const discovery = await discoverSignIn(neu.userId, mas.hs.baseUrl);
    const page = await freshPage();
    const session = await signIn(
        discovery,
        {
            method: "device",
            client: {
                clientName: "Account migration (test)",
                clientUri: "http://127.0.0.1/",
                applicationType: "native",
                redirectUri: "http://127.0.0.1/callback",
            },
            onCode: (prompt) =>
                void (async () => {
                    await page.goto(prompt.verificationUriComplete!);
                    await page.getByRole("button", { name: "Continue" }).click();
                    await signInAtProvider(page, neu.localpart);
                })(),
        },
        { deviceName: "Account migration (test)" },
    );
    const crypto = await crossSigningOn(session);
    try {
        const pages: string[] = [];
        const approval: ServerApproval = {
            askPassword: async () => {
                throw new Error("an account without a password was asked for one");
            },
            openPage: (url) => {
                pages.push(url);
                void (async () => {
                    await page.goto(url);
                    await page.getByLabel("User name").fill(neu.localpart);
                    await page.getByRole("button", { name: "Allow resetting the encryption identity" }).click();
                })();
            },
        };
        await crypto.bootstrap(false, approval);
        expect(pages).toEqual([]);
        await crypto.bootstrap(true, approval);
        expect(pages).toEqual([`${standIn.issuer}/account?action=org.matrix.cross_signing_reset`]);
    } finally {
        await crypto.stop();
        await session.signOut();
    }
});
