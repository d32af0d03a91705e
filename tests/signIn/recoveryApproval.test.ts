/**
 * The page's recovery approval prompt, end to end in Chromium: the new account signs in with its password, and
 * "Set up recovery here" meets a server that wants approval of the new cross-signing keys. Real Synapse B behind the
 * APPROVAL STAND-IN of tests/bed/approvalStandIn.ts (a server before Matrix 1.11, which asked for approval of a
 * first upload; Synapse no longer does). The prompt's screens are recorded and scanned with axe.
 */
import type { Page } from "playwright-core";

import { type HostServer, startHostServer } from "../../host/server.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { type ApprovalStandIn, startApprovalStandIn } from "../bed/approvalStandIn.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { closeBrowsers, openBrowserPage } from "../browser/chromium.ts";
import { type AxeViolation, recordScreen } from "../browser/screens.ts";
import { openMigrationPage, signInWithPassword, smallOldAccount } from "./support.ts";

let host: HostServer;
let standIn: ApprovalStandIn | undefined;
const violations: AxeViolation[] = [];

beforeAll(async () => {
    host = await startHostServer({
        config: {
            default_server_config: {
                "m.homeserver": { base_url: currentBed().a.baseUrl, server_name: currentBed().a.serverName },
            },
        },
    });
});

afterEach(async () => {
    await closeBrowsers();
    await standIn?.close();
    standIn = undefined;
});

afterAll(async () => {
    await host?.close();
});

/** The new account's key backup version, as its server has it (null: none). */
async function backupOf(neu: RegisteredUser): Promise<string | null> {
    const http = new MatrixHttp(currentBed().b.baseUrl, neu.accessToken);
    return http.request<{ version: string }>("GET", "/room_keys/version").then(
        (b) => b.version,
        (e: { httpStatus?: number }) => {
            if (e.httpStatus === 404) return null;
            throw e;
        },
    );
}

/** Signs the new account in on the page (through the stand-in) and asks for recovery to be set up here. */
async function setUpRecoveryThroughStandIn(
    kind: "password" | "page",
): Promise<{ page: Page; neu: RegisteredUser; redact: Record<string, string> }> {
    const bed = currentBed();
    const small = await smallOldAccount();
    const neu = await registerUser(bed.b, uniqueLocalpart("neu"));
    standIn = await startApprovalStandIn(
        bed.b.baseUrl,
        kind === "password" ? { kind, password: neu.password } : { kind },
    );
    const { page } = await openBrowserPage();
    await openMigrationPage(page, host.url, small.alice);
    await signInWithPassword(page, neu, standIn.url);
    await page.getByRole("radio", { name: "Set up recovery here" }).check();
    await page.getByRole("button", { name: "Set up recovery", exact: true }).click();
    await page.getByTestId("migration-recovery-approval").waitFor({ timeout: 30_000 });
    const redact = {
        [neu.userId]: "@neu:server-b",
        [small.alice.userId]: "@alice:server-a",
        [standIn.url]: "https://server-b",
    };
    return { page, neu, redact };
}

const focusedLabel = (page: Page) =>
    page.evaluate(
        () =>
            (document.activeElement as HTMLInputElement | null)?.labels?.[0]?.textContent ??
            document.activeElement?.textContent ??
            "",
    );

test("the server wants the password again (APPROVAL STAND-IN before Synapse B): asked for that one request; Cancel sets nothing up and is no error; a refused password says so; then approved, recovery is set up", async () => {
    const { page, neu, redact } = await setUpRecoveryThroughStandIn("password");
    const prompt = page.getByTestId("migration-recovery-approval");
    const setUp = page.getByRole("button", { name: "Set up recovery", exact: true });
    const approveWith = async (password: string) => {
        await prompt.getByRole("textbox", { name: "Password of the new account" }).fill(password);
        await prompt.getByRole("button", { name: "Approve" }).click();
    };
    // It appears because the person asked for the set-up: focus goes to what it asks for.
    expect(await focusedLabel(page)).toBe("Password of the new account");
    expect(await prompt.getByRole("heading", { name: "Approve setting up recovery" }).isVisible()).toBe(true);
    violations.push(...(await recordScreen(page, "recovery-approval-password", { redact })));

    await prompt.getByRole("button", { name: "Cancel" }).click();
    await prompt.waitFor({ state: "detached" });
    expect(await page.getByTestId("migration-error").count()).toBe(0);
    expect(await backupOf(neu)).toBeNull();

    // Each attempt continues on the migration's own device, whose keys an earlier attempt already gave the server.
    await setUp.click();
    await approveWith("not the password");
    await page
        .getByText("The new account's server did not accept that password.", { exact: false })
        .waitFor({ timeout: 30_000 });
    expect(await backupOf(neu)).toBeNull();
    expect(standIn!.uploadsForwarded()).toBe(0);

    await setUp.click();
    await approveWith(neu.password);
    await page.getByRole("heading", { name: "The new account's recovery key" }).waitFor({ timeout: 60_000 });
    // The password went to the one request that needed it each time, and the page kept it nowhere.
    expect(standIn!.passwordsReceived).toEqual(["not the password", neu.password]);
    expect(standIn!.uploadsForwarded()).toBe(1);
    expect(await page.evaluate((pw) => document.body.innerHTML.includes(pw), neu.password)).toBe(false);
    expect(await backupOf(neu)).not.toBeNull();
    expect(await page.getByTestId("migration-recovery-approval").count()).toBe(0);
    expect(await page.getByTestId("migration-error").count()).toBe(0);
});

test("the server wants approval on one of its pages (APPROVAL STAND-IN before Synapse B): a link to it, and the set-up finishes by itself once approved there", async () => {
    const { page, neu, redact } = await setUpRecoveryThroughStandIn("page");
    const prompt = page.getByTestId("migration-recovery-approval");
    const link = prompt.getByRole("link", { name: "Open the approval page" });
    const href = (await link.getAttribute("href")) ?? "";
    expect(href).toMatch(new RegExp(`^${standIn!.url}/account/approve\\?session=`));
    expect(await focusedLabel(page)).toBe("Open the approval page");
    violations.push(
        ...(await recordScreen(page, "recovery-approval-page", {
            redact: { [href]: "https://server-b/account/approve?session=…", ...redact },
        })),
    );
    expect(standIn!.uploadsForwarded()).toBe(0);

    const tab = page.waitForEvent("popup");
    await link.click();
    await (await tab).getByText("Approved. You can close this tab.").waitFor();
    await page.getByRole("heading", { name: "The new account's recovery key" }).waitFor({ timeout: 60_000 });
    expect(standIn!.pageVisits()).toBe(1);
    expect(standIn!.uploadsForwarded()).toBe(1);
    expect(await backupOf(neu)).not.toBeNull();
    expect(await page.getByTestId("migration-recovery-approval").count()).toBe(0);
    expect(await page.getByTestId("migration-error").count()).toBe(0);
});

test("axe finds no violations on the approval prompts, in the light or the dark theme", () => {
    expect(violations).toEqual([]);
});
