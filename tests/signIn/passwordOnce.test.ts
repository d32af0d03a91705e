/**
 * The new account's password is used for one request. Before, the page kept it in memory until Finish because
 * setting up recovery signed in a second time with it; now recovery is set up on the migration's own session, and
 * the server is asked for approval only if it wants one. Real Synapse servers, the module's page in Chromium.
 */
import { type HostServer, startHostServer } from "../../host/server.ts";
import type { ServerApproval } from "../../src/keys/recoverySetup.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { passwordSession } from "../bed/passwordSession.ts";
import { closeBrowsers, openBrowserPage } from "../browser/chromium.ts";
import {
    crossSigningOn,
    devicesOf,
    findNewAccount,
    openMigrationPage,
    planReview,
    runAndFinish,
    smallOldAccount,
} from "./support.ts";

let host: HostServer;

beforeAll(async () => {
    host = await startHostServer({
        config: {
            default_server_config: {
                "m.homeserver": { base_url: currentBed().a.baseUrl, server_name: currentBed().a.serverName },
            },
        },
    });
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
});

test("issue 7.13: the page signs the new account in with its password once; setting up recovery needs no second sign-in, and Finish leaves no session behind", async () => {
    const bed = currentBed();
    const small = await smallOldAccount();
    const neu = await registerUser(bed.b, uniqueLocalpart("neu"));
    const admin = await registerUser(bed.b, uniqueLocalpart("admin"), { admin: true });
    const { page } = await openBrowserPage();
    await openMigrationPage(page, host.url, small.alice);
    const mark = logMark([bed.b]);
    await findNewAccount(page, neu.userId, bed.b.baseUrl);
    await page.fill("input[name=newPassword]", neu.password);
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await planReview(page);
    // The new account has no key backup: the module sets up recovery on the migration's session.
    await page.getByRole("radio", { name: "Set up recovery here" }).check();
    await page.getByRole("button", { name: "Set up recovery", exact: true }).click();
    await page.getByRole("heading", { name: "The new account's recovery key" }).waitFor({ timeout: 60_000 });
    const logins = (await requestsSince([bed.b], mark)).filter((r) => r.method === "POST" && r.path.endsWith("/login"));
    expect(logins).toHaveLength(1);
    // The recovery was set up on the migration's own device, which Finish signs out.
    const migrationDevices = async () =>
        (await devicesOf(bed.b.baseUrl, admin.accessToken, neu.userId)).filter((d) =>
            d.display_name?.startsWith("Account migration"),
        );
    expect((await migrationDevices()).map((d) => d.display_name)).toEqual(["Account migration (Element)"]);
    await page.getByRole("checkbox", { name: "I have saved my recovery key" }).check();
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    expect(await runAndFinish(page)).toMatch(/2 moved, 0 already done, 0 need action, 0 skipped, 0 failed/);
    await page.getByLabel(/New account/).waitFor();
    expect(await migrationDevices()).toEqual([]);
});

test("when the server wants approval of new cross-signing keys (a reset), the password is asked for that one request — and without a way to ask, nothing is uploaded", async () => {
    const bed = currentBed();
    const neu = await registerUser(bed.b, uniqueLocalpart("neu"));
    const session = await passwordSession(bed.b.baseUrl, neu);
    const crypto = await crossSigningOn(session);
    try {
        const asked: string[] = [];
        const approval: ServerApproval = {
            askPassword: async () => {
                asked.push("password");
                return neu.password;
            },
            openPage: (url) => asked.push(url),
        };
        // A first upload needs no approval (Matrix 1.11): nothing is asked.
        await crypto.bootstrap(false, approval);
        expect(asked).toEqual([]);
        await expect(crypto.bootstrap(true, undefined)).rejects.toMatchObject({
            code: "approval_needed",
            message: expect.stringMatching(/asks for approval .*m\.login\.password/),
        });
        await crypto.bootstrap(true, approval);
        expect(asked).toEqual(["password"]);
    } finally {
        await crypto.stop();
        await session.signOut();
    }
});
