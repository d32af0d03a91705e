/**
 * Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core (tools that download their own
 * browser cannot work on these machines). Every browser launched here is closed by `closeBrowsers()`; Playwright
 * also kills it if the test process dies.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { type BrowserContext, chromium, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const open: Array<{ context: BrowserContext; profile: string }> = [];

export async function openBrowserPage(): Promise<{ page: Page; context: BrowserContext; logs: string[] }> {
    if (!existsSync(CHROMIUM)) {
        throw new Error(
            `Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH.`,
        );
    }
    const profile = mkdtempSync(path.join(tmpdir(), "migration-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    });
    open.push({ context, profile });
    const page = context.pages()[0] ?? (await context.newPage());
    const logs: string[] = [];
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    return { page, context, logs };
}

export async function closeBrowsers(): Promise<void> {
    for (const { context, profile } of open.splice(0)) {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
    }
}
