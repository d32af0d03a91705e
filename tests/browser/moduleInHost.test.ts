/**
 * The built module, loaded by the host page through the real ModuleLoader, with a real logged-in client for a
 * user on server A as window.mxMatrixClientPeg, in headless Chromium — in German, as Element set to German shows it.
 */
import { startHostServer, type HostServer } from "../../host/server.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { closeBrowsers, openBrowserPage } from "./chromium.ts";

let host: HostServer;

beforeAll(async () => {
    const bed = currentBed();
    host = await startHostServer({
        config: {
            default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
        },
    });
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
});

test("the entry shows in the space panel; the page, in the user's language, loads as its own chunk; the engine only later", async () => {
    const bed = currentBed();
    const user = await registerUser(bed.a, uniqueLocalpart("browser"));
    const { page, logs } = await openBrowserPage();
    const moduleRequests: string[] = [];
    page.on("request", (r) => {
        if (r.url().includes("/modules/account-migration/"))
            moduleRequests.push(new URL(r.url()).pathname.replace(/\.[0-9a-f]{8}\.js$/, ".js"));
    });

    await page.goto(`${host.url}?lang=de`);
    await page.getByLabel("Username").fill(user.userId);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
    // Element's start-up fetched the entry file alone.
    expect(moduleRequests).toEqual(["/modules/account-migration/index.js"]);

    await page.getByRole("button", { name: "Konto umziehen" }).click();
    await page.getByRole("heading", { name: "Konto umziehen", level: 1 }).waitFor();
    expect(page.url()).toMatch(/#\/migrate-account$/);
    expect(await page.getByRole("main").textContent()).toContain(`${user.userId} auf ein neues Matrix-Konto umziehen`);
    expect(await page.getByRole("heading", { name: "Beim neuen Konto anmelden", level: 2 }).count()).toBe(1);
    // First the new account, in German too: "Continue" looks it up.
    expect(await page.getByRole("textbox", { name: "Neues Konto", exact: true }).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Weiter", exact: true }).count()).toBe(1);
    // Compound's stylesheet is adopted: its buttons are styled, not browser defaults.
    expect(await page.evaluate(() => document.adoptedStyleSheets.length)).toBeGreaterThanOrEqual(2);

    // The page came as its own chunk(s); the engine, a second matrix-js-sdk and the crypto WASM did not load.
    expect(moduleRequests.some((p) => p.includes("/chunks/migration-page"))).toBe(true);
    expect(moduleRequests.some((p) => p.includes("migration-runtime") || p.endsWith(".wasm"))).toBe(false);
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
});
