/**
 * The built module, loaded by the host page through the real ModuleLoader, with a real logged-in client for a
 * user on server A as window.mxMatrixClientPeg, in headless Chromium.
 */
import { startHostServer, type HostServer } from "../../host/server.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { closeBrowsers, openBrowserPage } from "./chromium.ts";

let host: HostServer;

beforeAll(async () => {
    const bed = currentBed();
    host = await startHostServer({
        config: { default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } } },
    });
});

afterAll(async () => {
    await closeBrowsers();
    await host?.close();
});

test("the module's entry point shows in the space panel and opens its page", async () => {
    const bed = currentBed();
    const user = await registerUser(bed.a, uniqueLocalpart("browser"));
    const { page, logs } = await openBrowserPage();
    const moduleRequests: string[] = [];
    page.on("request", (r) => {
        if (r.url().includes("/modules/account-migration/")) moduleRequests.push(new URL(r.url()).pathname);
    });

    await page.goto(host.url);
    await page.fill("input[name=username]", user.userId);
    await page.fill("input[name=password]", user.password);
    await page.click("button[type=submit]");
    await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("host-user").textContent()).toBe(user.userId);

    const entry = page.locator('.mx_SpaceItem [role=button][aria-label="Migrate account"]');
    await entry.waitFor();
    await entry.click();
    await page.getByTestId("migration-page").waitFor();
    expect(page.url()).toMatch(/#\/migrate-account$/);
    expect(await page.getByTestId("migration-page").textContent()).toContain(user.userId);

    // Only the entry file was fetched: the engine and its matrix-js-sdk load when a migration starts.
    expect(moduleRequests).toEqual(["/modules/account-migration/index.js"]);
    expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
});
