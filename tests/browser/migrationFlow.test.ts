/**
 * The whole product in headless Chromium, driven the way a person does — by role and label, never by CSS: signed in
 * to the host page as the old account, the user types `/migrate @new` in a room, follows the composer's offer, finds
 * the new account (its server is asked how it signs in) and signs in with the password it offers, reviews the plan,
 * gives both recovery keys and starts; pauses, goes to another room and comes back to the live run through the space
 * panel; closes the tab mid-run; opens Element again and continues. Then the servers are asked what happened, and a
 * fresh device of the new account decrypts the old history. Then the security scans: the page talked only to the two
 * homeservers and its host, and kept no password, token, recovery key or room key anywhere (storage, console). Every
 * screen is recorded (light, dark and high-contrast, aria snapshot) and scanned with axe; a last test does a whole dry run by
 * keyboard alone. (The sign-in methods other servers offer
 * — single sign-on, OAuth 2.0, a code — and their waits are driven in tests/signIn.)
 */
import type { BrowserContext, Page } from "playwright-core";

import { startHostServer, type HostServer } from "../../host/server.ts";
import { stopAllClients } from "../bed/clients.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { passwordSession } from "../bed/passwordSession.ts";
import { getState } from "../support/scenario.ts";
import {
    DEMO_CONVERSATIONS,
    type DemoAccounts,
    randomDemoAccountSpecs,
    seedDemoAccounts,
} from "../fixtures/demoAccounts.ts";
import { decryptedBodies, freshDeviceFromRecoveryKey } from "../keys/history.ts";
import { giveKeys } from "../signIn/support.ts";
import { MatrixHttp } from "../../src/sessions/matrixHttp.ts";
import { recoveryKeySecrets, secretsFound, tokenSecrets } from "../bed/secretScan.ts";
import {
    type BrowserRecord,
    allowedOrigins,
    closeBrowsers,
    contactedOrigins,
    openBrowserPage,
    pageLeftovers,
} from "./chromium.ts";
import { type AxeViolation, recordScreen } from "./screens.ts";

let host: HostServer;
let demo: DemoAccounts;
let context: BrowserContext;
let page: Page;
let logs: string[];
let network: BrowserRecord;
/** The room keys of the demo's encrypted history (each megolm session's `session_key`), for the security scan. */
let roomKeys: string[] = [];
const violations: AxeViolation[] = [];
const MIGRATION_DEVICE = "Account migration (Element)";

/** Run-specific ids become stable placeholders in the aria snapshots. */
const redact = () => ({
    [demo.users.aliceNew.userId]: "@alice-new:server-b",
    [demo.users.alice.userId]: "@alice:server-a",
    [demo.users.bob.userId]: "@bob:server-a",
    [demo.users.carol.userId]: "@carol:server-b",
    [currentBed().b.baseUrl]: "https://server-b",
    ...Object.fromEntries(Object.entries(demo.rooms).map(([name, roomId]) => [roomId, `!${name}:server-a`])),
});
const record = async (name: string) => violations.push(...(await recordScreen(page, name, { redact: redact() })));

/** The new account's sessions made by the module (named by it), as the new server lists them. */
async function migrationDevices(): Promise<string[]> {
    const bed = currentBed();
    const checker = await passwordSession(bed.b.baseUrl, demo.users.aliceNew, "test checker");
    try {
        const { devices } = await checker.http.request<{
            devices: Array<{ device_id: string; display_name?: string }>;
        }>("GET", "/devices");
        return devices.filter((d) => d.display_name === MIGRATION_DEVICE).map((d) => d.device_id);
    } finally {
        await checker.signOut();
    }
}

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const v = await read();
        if (ok(v)) return v;
        if (Date.now() > until) throw new Error(`${what}: still ${JSON.stringify(v)}`);
        await new Promise((r) => setTimeout(r, 300));
    }
}

const homeserverField = () => page.getByRole("textbox", { name: "Its homeserver address" });
const continueButton = () => page.getByRole("button", { name: "Continue", exact: true });
const methods = () => page.getByTestId("migration-sign-in-methods");
const passwordField = () => page.getByRole("textbox", { name: "Password of the new account" });

/** Two steps: find the account (giving its homeserver's address), then sign in with the password it offers. */
async function signInNewAccount(): Promise<void> {
    if (!(await methods().count())) {
        await continueButton().click();
        // The new server is named by an IP literal whose TLS certificate the browser does not trust: discovery fails.
        await homeserverField().waitFor();
        await homeserverField().fill(currentBed().b.baseUrl);
        await continueButton().click();
        await methods().waitFor();
    }
    await passwordField().fill(demo.users.aliceNew.password);
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await page.getByRole("heading", { name: "Review the plan" }).waitFor({ timeout: 30_000 });
}

/** The accessible name of what has the focus (a label, or the text of a button or heading). */
const focusedName = () =>
    page.evaluate(() => {
        const el = document.activeElement as HTMLInputElement | null;
        return (el?.getAttribute("aria-label") ?? el?.labels?.[0]?.textContent ?? el?.textContent ?? "").trim();
    });

const giveRecoveryKeys = () => giveKeys(page, { old: demo.recoveryKeys.alice, new: demo.recoveryKeys.aliceNew });

beforeAll(async () => {
    const bed = currentBed();
    demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    host = await startHostServer({
        config: {
            default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
        },
    });
    ({ page, context, logs, network } = await openBrowserPage());
    await page.goto(host.url);
    await page.getByLabel("Username").fill(demo.users.alice.userId);
    await page.getByLabel("Password").fill(demo.users.alice.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
    await stopAllClients();
});

test("typing /migrate in a room offers to open the migration for that account", async () => {
    await page.getByRole("link", { name: "Project team" }).click();
    await page.getByRole("textbox", { name: "Send a message…" }).fill(`/migrate ${demo.users.aliceNew.userId}`);
    const offer = page.getByRole("status", { name: "Account migration" });
    await offer.getByText(`Move this account to ${demo.users.aliceNew.userId}?`).waitFor();
    violations.push(...(await recordScreen(page, "composer-offer", { target: offer, redact: redact() })));
    await offer.getByRole("button", { name: "Open account migration" }).click();
    await page.getByRole("heading", { name: "Sign in to the new account" }).waitFor();
    expect(page.url()).toMatch(/#\/migrate-account$/);
    expect(await page.getByRole("textbox", { name: "New account", exact: true }).inputValue()).toBe(
        demo.users.aliceNew.userId,
    );
    expect(await page.inputValue("input[name=newUserId]")).toBe(demo.users.aliceNew.userId);
    expect(
        await page.getByRole("list", { name: "Steps of the migration" }).getByRole("listitem").allTextContents(),
    ).toEqual(["1. Sign in", "2. Review", "3. Move", "4. Report"]);
    // First the account alone: how it signs in depends on its server.
    expect(await methods().count()).toBe(0);
    expect(await passwordField().count()).toBe(0);
    await record("sign-in");
});

test("a server that cannot be found, then a wrong password: each error at its field, the password not kept, nothing moves on", async () => {
    await continueButton().click();
    const homeserver = homeserverField();
    await homeserver.waitFor();
    // The message sits right under the field it asks for, which takes the focus; the raw fetch detail is folded away.
    expect(await page.getByTestId("migration-error").textContent()).toMatch(/could not be found from its name/);
    expect(
        await page.getByText(/could not be found from its name\. Enter the homeserver's address\./).isVisible(),
    ).toBe(true);
    expect(await page.getByText("Technical details").isVisible()).toBe(true);
    expect(await homeserver.getAttribute("aria-invalid")).toBe("true");
    expect(await focusedName()).toBe("Its homeserver address");
    await record("sign-in-error");
    await homeserver.fill(currentBed().b.baseUrl);
    await continueButton().click();
    // Synapse B offers passwords only (and the advanced access token): no other method is shown.
    await methods().waitFor();
    expect(
        await methods()
            .getByRole("button", { name: /^Continue with/ })
            .count(),
    ).toBe(0);
    expect(await page.getByText("Advanced: use an access token").isVisible()).toBe(true);
    expect(
        await page.getByText(`${demo.users.aliceNew.userId} — homeserver ${currentBed().b.baseUrl}.`).isVisible(),
    ).toBe(true);
    await record("sign-in-methods");
    await passwordField().fill("not the password");
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await page.getByText("Wrong password for the new account.").waitFor();
    expect(await passwordField().getAttribute("aria-invalid")).toBe("true");
    expect(await focusedName()).toBe("Password of the new account");
    // The typed password does not stay in the page.
    expect(await page.inputValue("input[name=newPassword]")).toBe("");
    expect(await page.getByRole("heading", { name: "Review the plan" }).count()).toBe(0);
    await record("sign-in-wrong-password");
});

test("the plan groups rooms; start, pause, leave for a room, come back to the live run through the space panel", async () => {
    await signInNewAccount();
    expect(await page.getByText(/^7 of 7 rooms chosen/).count()).toBe(1);
    // Alice moderates Town square but may not change its power levels: it needs an admin, said plainly, with a message.
    const help = page.getByRole("region", { name: "Needs someone's help" });
    expect(await help.getByRole("listitem").filter({ hasText: "Town square" }).textContent()).toContain(
        "Moves, but an admin must give the new account level 50",
    );
    await help.getByRole("button", { name: "Show details of Town square" }).click();
    expect(await help.getByText(/Could you give .* power level 50/).count()).toBe(1);
    expect(await page.getByRole("region", { name: "To move" }).getByRole("listitem").count()).toBe(6);
    await giveRecoveryKeys();
    await record("review");

    await page.getByRole("button", { name: "Start migration" }).click();
    await page.getByRole("heading", { name: "Moving your account" }).waitFor();
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Paused", { exact: true }).waitFor();
    // The recovery keys were used once and are gone from the page.
    expect(await page.evaluate(() => document.body.innerHTML.includes("EsT"))).toBe(false);
    await record("running-paused");

    // Elsewhere in Element: the run lives on, the space panel shows where it stands.
    await page.getByRole("button", { name: "Home" }).click();
    await page.getByRole("link", { name: "Book club" }).click();
    await page.getByRole("heading", { name: "Book club" }).waitFor();
    const entry = page.getByRole("button", { name: /^Migrate account · Paused at \d+ of 7 rooms$/ });
    await entry.waitFor();
    await entry.click();
    await page.getByRole("heading", { name: "Moving your account" }).waitFor();
    expect(await page.getByRole("button", { name: "Resume" }).isVisible()).toBe(true);
});

test("closing the tab mid-run signs the temporary session out; Element opened again continues the same migration", async () => {
    expect(await migrationDevices()).toHaveLength(1);
    await page.close({ runBeforeUnload: true });
    await waitFor(
        migrationDevices,
        (d) => d.length === 0,
        "the migration's session of the new account after the tab closed",
    );

    page = await context.newPage();
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    await page.goto(`${host.url}#/migrate-account`);
    const offer = page.getByRole("button", { name: `Continue moving to ${demo.users.aliceNew.userId}` });
    await offer.waitFor({ timeout: 30_000 });
    await record("continue-offer");
    await offer.click();
    expect(
        await page.getByRole("textbox", { name: "New account", exact: true }).getAttribute("readonly"),
    ).not.toBeNull();
    await signInNewAccount();
    await page.getByText("Continuing an interrupted migration").waitFor();
    await giveRecoveryKeys();
    await page.getByRole("button", { name: "Continue migration" }).click();
    await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 100_000 });
    await record("report");

    // Rooms finished before the tab closed are "already done" now; together with the rest, six moved.
    const moved = page.getByRole("region", { name: /^(Moved|Already done)$/ }).getByRole("listitem");
    expect(await moved.count()).toBe(6);
    expect(await page.getByRole("region", { name: "Needs action" }).getByRole("listitem").allTextContents()).toEqual([
        expect.stringContaining("Town square"),
    ]);
    expect(await page.getByRole("region", { name: /^(Skipped|Failed)$/ }).count()).toBe(0);
    expect(
        await page
            .getByText(
                `Encrypted history: ${demo.aliceMegolmSessions} keys found, ${demo.aliceMegolmSessions} handed over, 0 missing.`,
            )
            .count(),
    ).toBe(1);
    await page.getByRole("button", { name: "Copy all admin requests (1)" }).waitFor();
    const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download as Markdown" }).click(),
    ]);
    const markdown = await new Promise<string>((resolve, reject) => {
        void download.createReadStream().then((s) => {
            let text = "";
            s.on("data", (c) => (text += c))
                .on("end", () => resolve(text))
                .on("error", reject);
        });
    });
    expect(markdown).toMatch(/^# Done/);
    expect(markdown).toContain("## Messages for room admins");
    expect(markdown).toContain("Town square");

    // What the servers say: the new account is in every room, direct chats are direct.
    const bed = currentBed();
    const fresh = await freshDeviceFromRecoveryKey(bed.b, demo.users.aliceNew, demo.recoveryKeys.aliceNew);
    const neu = { userId: demo.users.aliceNew.userId, http: new MatrixHttp(bed.b.baseUrl, fresh.device.accessToken) };
    for (const roomId of Object.values(demo.rooms)) {
        const member = await getState(neu as never, roomId, "m.room.member", neu.userId);
        expect({ roomId, membership: member.membership }).toEqual({ roomId, membership: "join" });
    }
    const direct = await neu.http.request<Record<string, string[]>>(
        "GET",
        `/user/${encodeURIComponent(neu.userId)}/account_data/m.direct`,
    );
    expect(direct[demo.users.bob.userId]).toEqual([demo.rooms.dmBob]);
    expect(direct[demo.users.carol.userId]).toEqual([demo.rooms.dmCarol]);

    // Finish forgets everything and signs the migration's session out.
    await page.getByRole("button", { name: "Finish" }).click();
    await page.getByRole("heading", { name: "Sign in to the new account" }).waitFor();
    await waitFor(migrationDevices, (d) => d.length === 0, "the migration's session of the new account after Finish");
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
});

test("a fresh device of the new account reads the old encrypted history with only its recovery key", async () => {
    const fresh = await freshDeviceFromRecoveryKey(currentBed().b, demo.users.aliceNew, demo.recoveryKeys.aliceNew);
    expect(fresh.imported).toBe(demo.aliceMegolmSessions);
    const { bodies, failures } = await decryptedBodies(fresh.client, fresh.device, demo.rooms.projectTeam);
    expect(failures).toBe(0);
    expect(bodies.sort()).toEqual(DEMO_CONVERSATIONS.projectTeam.map(([, text]) => text).sort());
    roomKeys = (await fresh.client.getCrypto()!.exportRoomKeys()).map((k) => k.session_key);
});

test("security scan: the page talked only to the two homeservers and its host, and keeps no password, token, recovery key or room key in its storage or console", async () => {
    const bed = currentBed();
    const origin = (url: string) => new URL(url).origin;
    const [hostOrigin, a, b] = [origin(host.url), origin(bed.a.baseUrl), origin(bed.b.baseUrl)];
    // B's name is asked for its .well-known (which the browser does not trust here: the address is typed).
    expect(contactedOrigins(network)).toEqual(
        allowedOrigins(host.url, [bed.a, { baseUrl: bed.b.baseUrl, lookedUp: bed.b.serverName }]),
    );
    // From the host: Element's files and the module's own folder, nothing else of the module's.
    const moduleFiles = network.requests.filter((r) => r.url.startsWith(`${hostOrigin}/modules/`));
    expect(moduleFiles.length).toBeGreaterThan(0);
    expect(moduleFiles.filter((r) => !r.url.startsWith(`${hostOrigin}/modules/account-migration/`))).toEqual([]);

    // What the test knows was used: the passwords typed, both recovery keys, every token of the new account's
    // sessions (as the new server issued and received them), and the room keys of the encrypted history.
    const newAccountTokens = tokenSecrets(network.tokens, [b]);
    expect(Object.keys(newAccountTokens).length).toBeGreaterThan(0);
    expect(roomKeys.length).toBe(demo.aliceMegolmSessions);
    const secrets = {
        "the new account's password": demo.users.aliceNew.password,
        "the old account's password": demo.users.alice.password,
        ...recoveryKeySecrets("the old recovery key", demo.recoveryKeys.alice),
        ...recoveryKeySecrets("the new recovery key", demo.recoveryKeys.aliceNew),
        ...newAccountTokens,
        ...Object.fromEntries(roomKeys.map((key, i) => [`room key ${i + 1}`, key])),
    };
    const places = await pageLeftovers(page, network);
    expect(Object.keys(places).some((p) => p.startsWith("IndexedDB "))).toBe(true);
    expect(secretsFound(places, secrets)).toEqual([]);
    // Element's own session (the old account's token) is where the host keeps it, as Element keeps its own — nowhere else.
    const elementSession = "localStorage mx_host_session";
    expect(Object.keys(places)).toContain(elementSession);
    const elsewhere = Object.fromEntries(Object.entries(places).filter(([place]) => place !== elementSession));
    expect(secretsFound(elsewhere, tokenSecrets(network.tokens, [a]))).toEqual([]);
});

/** Presses Tab until the focused element has this accessible name; checks the focus is visible at each stop. */
async function tabTo(name: string | RegExp): Promise<void> {
    for (let i = 0; i < 80; i++) {
        await page.keyboard.press("Tab");
        const focused = await page.evaluate(() => {
            const el = document.activeElement as HTMLElement | null;
            if (!el || !el.closest("main")) return null;
            const input = el as HTMLInputElement;
            const label = el.getAttribute("aria-label") ?? input.labels?.[0]?.textContent ?? el.textContent ?? "";
            // Compound draws the ring of checkboxes and radios on the element after the (transparent) input.
            const ringOn =
                input.type === "checkbox" || input.type === "radio" ? (el.nextElementSibling as HTMLElement) : el;
            const style = getComputedStyle(ringOn);
            const visible =
                el.matches(":focus-visible") && (style.outlineStyle !== "none" || style.boxShadow !== "none");
            return { label: label.trim(), visible };
        });
        if (!focused) continue;
        if (!focused.visible) throw new Error(`focus is not visible on “${focused.label}”`);
        if (typeof name === "string" ? focused.label === name : name.test(focused.label)) return;
    }
    throw new Error(`could not reach “${name}” with Tab`);
}

test("keyboard only: sign in, review, a dry run and back to the plan, with visible focus everywhere", async () => {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await tabTo("New account");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type(demo.users.aliceNew.userId);
    await tabTo("Continue");
    await page.keyboard.press("Enter");
    // The server is not found from the name: the homeserver field opens and has the focus.
    await homeserverField().waitFor();
    expect(await focusedName()).toBe("Its homeserver address");
    await page.keyboard.type(currentBed().b.baseUrl);
    await tabTo("Continue");
    await page.keyboard.press("Enter");
    // The methods replace the form; focus moves to their start.
    await methods().waitFor();
    expect(await focusedName()).toBe("How to sign in to the new account");
    await tabTo("Password of the new account");
    await page.keyboard.type(demo.users.aliceNew.password);
    await tabTo("Sign in to the new account");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Review the plan" }).waitFor({ timeout: 30_000 });

    await tabTo("Show details of Town square");
    await page.keyboard.press("Enter");
    await page.getByText(/Could you give .* power level 50/).waitFor();
    await tabTo("Hand the keys over without checking");
    await page.keyboard.press("Space");
    await tabTo("Try it first (changes nothing)");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Dry run: what would happen" }).waitFor({ timeout: 60_000 });
    await record("report-dry-run");
    await tabTo("Back to the plan");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Review the plan" }).waitFor();
    expect(await page.getByRole("checkbox", { name: "Hand the keys over without checking" }).isChecked()).toBe(false);
});

test("axe finds no violations on any screen, in the light, dark or either high-contrast theme", () => {
    expect(violations).toEqual([]);
});
