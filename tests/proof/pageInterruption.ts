/**
 * Interruption trials through the Element page: the page (its browser tab) closed at a point of a migration, Element
 * opened again with the same session, the migration continued from the journal ("Continue moving to …", the new
 * account signed in again) — it must end exactly where an uninterrupted twin run through the page ends, and at no
 * moment (right after the close, and at the end) may a room be left by the old account without the new account fully
 * in its place. The state is read from the servers (migrationState.ts), as in the CLI's trials (interruption.ts).
 *
 * Close points are the migration's own changes: the twin tells how many write requests a whole run through the page
 * sends to the two servers, and each trial closes its tab the moment it sends one of them (it may or may not arrive,
 * as when a laptop lid closes), so the points spread over the run (journal, levels, joins, keys, leaving, notes,
 * account data) whatever the machine's speed.
 */
import { performance } from "node:perf_hooks";

import type { BrowserContext, Page, Request } from "playwright-core";

import type { HostServer } from "../../host/server.ts";
import { isChange } from "../bed/accessLog.ts";
import { stopAllClients } from "../bed/clients.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import { openBrowserPage } from "../browser/chromium.ts";
import { giveKeys, openMigrationPage, signInToContinue, signInWithPassword } from "../signIn/support.ts";
import { differences } from "./interruption.ts";
import { migrationState, unsafeLeaves } from "./migrationState.ts";
import { type TrialAccount, buildTrialAccount } from "./trialAccount.ts";

export interface PageTwin {
    state: Record<string, unknown>;
    /** Changes the page sent to the servers in a whole run (see `isMigrationWrite`). */
    writes: number;
    ms: number;
}

/**
 * A request of the migration that changes something: a write to either homeserver — not a sign-in or sign-out, not a
 * POST that only reads, not Element's own session keeping its device's keys uploaded.
 */
function isMigrationWrite(request: Request, servers: string[]): boolean {
    const url = new URL(request.url());
    return (
        servers.includes(url.origin) &&
        isChange(request.method(), url.pathname) &&
        !url.pathname.endsWith("/keys/upload")
    );
}

const heading = (page: Page, name: string) => page.getByRole("heading", { name, exact: true });

const bothRecoveryKeys = (t: TrialAccount) => ({ old: t.demo.recoveryKeys.alice, new: t.demo.recoveryKeys.aliceNew });

/**
 * From Element's migration page: the new account signed in, the CLI trials' choices (leave the old rooms, tell
 * people), both recovery keys, Start. Resolves when the run is done, or when `closeAt` writes were sent and the tab
 * closed (then `closed` is true).
 */
async function startRun(
    page: Page,
    t: TrialAccount,
    bed: BedDescription,
    closeAt?: number,
): Promise<{ writes: number; closed: boolean }> {
    await signInWithPassword(page, t.demo.users.aliceNew, bed.b.baseUrl);
    await page
        .getByRole("checkbox", {
            name: "Leave each old room once the new account is safely in it (with its admin rights and keys)",
        })
        .check();
    await page
        .getByRole("checkbox", {
            name: "Tell people: add “(moved to …)” to the old display name and post a short note in each direct chat",
        })
        .check();
    await giveKeys(page, bothRecoveryKeys(t));
    const servers = [new URL(bed.a.baseUrl).origin, new URL(bed.b.baseUrl).origin];
    let writes = 0;
    let closing: Promise<void> | undefined;
    page.on("request", (request) => {
        if (!isMigrationWrite(request, servers)) return;
        writes++;
        // As the person closes the tab: the page gets its pagehide, then it is gone.
        if (writes === closeAt) closing = page.close({ runBeforeUnload: true });
    });
    await page.getByRole("button", { name: "Start migration" }).click();
    // Whichever comes first: the report, or the tab closing (then waiting for the report fails, as it should).
    const done = heading(page, "Done").waitFor({ timeout: 180_000 });
    const gone = page.waitForEvent("close", { timeout: 180_000 });
    await Promise.race([done, gone]).catch((e) => {
        if (!page.isClosed()) throw e;
    });
    void done.catch(() => undefined);
    void gone.catch(() => undefined);
    await closing;
    return { writes, closed: page.isClosed() };
}

async function openElement(context: BrowserContext, host: HostServer): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${host.url}#/migrate-account`);
    return page;
}

/** Migrates a fresh trial account through the page without interruption. */
export async function runPageTwin(bed: BedDescription, host: HostServer): Promise<PageTwin> {
    const t = await buildTrialAccount(bed);
    const { page, context } = await openBrowserPage();
    try {
        await openMigrationPage(page, host.url, t.demo.users.alice);
        const started = performance.now();
        const { writes } = await startRun(page, t, bed);
        const ms = performance.now() - started;
        await page.getByRole("button", { name: "Finish" }).click();
        const unsafe = await unsafeLeaves(t);
        if (unsafe.length) throw new Error(`The uninterrupted run left rooms unsafely:\n${unsafe.join("\n")}`);
        return { state: await migrationState(t), writes, ms };
    } finally {
        await context.close();
        await stopAllClients();
    }
}

/** Close points spread evenly over the twin's writes (the first write is the journal's record of the choices). */
export function closePoints(twin: PageTwin, count: number): number[] {
    return Array.from({ length: count }, (_, i) => 2 + Math.round(((i + 0.5) / count) * (twin.writes - 3)));
}

export interface PageTrialResult {
    closeAt: number;
    /** When the tab closed, and the rooms done by then as the continue offer says. */
    closedAfterMs?: number;
    offer?: string;
    problems: string[];
}

export async function pageInterruptionTrial(
    bed: BedDescription,
    host: HostServer,
    twin: PageTwin,
    closeAt: number,
): Promise<PageTrialResult> {
    const problems: string[] = [];
    const t = await buildTrialAccount(bed);
    const { page, context } = await openBrowserPage();
    try {
        await openMigrationPage(page, host.url, t.demo.users.alice);
        const started = performance.now();
        const first = await startRun(page, t, bed, closeAt);
        const closedAfterMs = performance.now() - started;
        if (!first.closed) {
            problems.push(
                `the run ended after ${first.writes} writes, before write ${closeAt}: it was not interrupted`,
            );
            return { closeAt, problems };
        }
        for (const p of await unsafeLeaves(t)) problems.push(`right after the tab closed: ${p}`);

        // Element opened again with the same session: it offers to continue the migration the journal holds.
        const again = await openElement(context, host);
        const offer = again.getByRole("button", { name: `Continue moving to ${t.demo.users.aliceNew.userId}` });
        await offer.waitFor({ timeout: 60_000 });
        const offerText = (await again.getByText(/stopped after \d+ of \d+ rooms/).textContent()) ?? undefined;
        await offer.click();
        await signInToContinue(again, bed.b.baseUrl, t.demo.users.aliceNew.password);
        await again.getByText("Continuing an interrupted migration").waitFor();
        await giveKeys(again, bothRecoveryKeys(t));
        await again.getByRole("button", { name: "Continue migration" }).click();
        await heading(again, "Done").waitFor({ timeout: 180_000 });
        await again.getByRole("button", { name: "Finish" }).click();

        for (const p of await unsafeLeaves(t)) problems.push(`after continuing: ${p}`);
        for (const d of differences(await migrationState(t), twin.state))
            problems.push(`differs from the uninterrupted twin: ${d}`);
        return { closeAt, closedAfterMs, offer: offerText, problems };
    } finally {
        await context.close();
        await stopAllClients();
    }
}

/** One line per trial, for a log: where the tab closed and what was wrong. */
export function describePageTrial(r: PageTrialResult, index: number): string {
    const where = r.closedAfterMs
        ? `tab closed at write ${r.closeAt} after ${(r.closedAfterMs / 1000).toFixed(1)} s (“${r.offer?.slice(0, 80) ?? ""}”)`
        : `close point write ${r.closeAt}`;
    return `page trial ${index + 1}: ${r.problems.length ? "FAILED" : "passed"} — ${where}${r.problems.map((p) => `\n    ${p}`).join("")}`;
}
