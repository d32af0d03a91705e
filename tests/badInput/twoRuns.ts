/**
 * "Two runs of the same migration at once", on both front ends: the second is refused with a clear message and
 * changes nothing while the first is alive; once the first is gone (killed, its tab closed), the migration can go on
 * at once.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";

import { runLockFile } from "../../src/cli/runLock.ts";
import { changesIn, logMark, requestsSince } from "../bed/accessLog.ts";
import { startFaultProxy } from "../bed/faultProxy.ts";
import { openBrowserPage } from "../browser/chromium.ts";
import { runCli, startCli } from "../cli/cliProcess.ts";
import { getState } from "../support/scenario.ts";
import { openMigrationPage, signInToContinue, signInWithPassword } from "../signIn/support.ts";
import type { CliContext } from "./cliRunner.ts";
import { type SmallAccount, smallAccount } from "./fixture.ts";
import { type PageContext, expectNoChange } from "./pageRunner.ts";
import { cliArgs } from "../support/cli.ts";

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** The new account's membership in every room of the small account, as the old account's server sees it. */
export async function newAccountIn(s: SmallAccount): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    for (const [name, roomId] of Object.entries(s.rooms)) {
        const member = await getState<{ membership?: string }>(
            s.alice,
            roomId,
            "m.room.member",
            s.aliceNew.userId,
        ).catch(() => ({ membership: undefined }));
        out[name] = member.membership ?? null;
    }
    return out;
}

export async function cliTwoRuns(ctx: CliContext): Promise<void> {
    const { bed } = ctx;
    const s = await smallAccount(bed, 2);
    // The first run takes the lock, then hangs on its read of the old account's rooms (a stalled server): it holds the
    // lock and changes nothing while the second one starts.
    const stalledA = await startFaultProxy(bed.a.baseUrl, (method, p) =>
        method === "GET" && p.startsWith("/_matrix/client/v3/sync") ? { kind: "stall" } : undefined,
    );
    const args = (oldHomeserver: string) =>
        cliArgs({ oldHomeserver, newUser: s.aliceNew.userId, newHomeserver: bed.b.baseUrl }, "--yes");
    const env = {
        MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken,
        MIGRATE_NEW_ACCESS_TOKEN: s.aliceNew.accessToken,
        TMPDIR: tmpdir(),
    };
    const first = startCli(args(stalledA.baseUrl), env);
    try {
        await until(() => /Reading .*'s rooms and settings/.test(first.stderr()), "the first run to read the rooms");
        const mark = logMark([bed.a, bed.b]);
        const second = await runCli(args(bed.a.baseUrl), env);
        expect({ code: second.code, stderr: second.stderr }).toEqual({
            code: 2,
            stderr: expect.stringContaining(
                `The migration from ${s.alice.userId} to ${s.aliceNew.userId} is already running on this machine (process ${first.child.pid}).`,
            ),
        });
        expect(second.stderr).toMatch(/Nothing was changed/);
        expect(changesIn(await requestsSince([bed.a, bed.b], mark))).toEqual([]);
        expect(await newAccountIn(s)).toEqual({ "Public 1": null, "Public 2": null });

        // Killed as a crash would stop it, the first run leaves its lock behind; the next run takes it over at once.
        first.child.kill("SIGKILL");
        await first.done;
        expect(existsSync(runLockFile(s.alice.userId, s.aliceNew.userId))).toBe(true);
        const third = await runCli(args(bed.a.baseUrl), env);
        expect({ code: third.code, stderr: third.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
        expect(await newAccountIn(s)).toEqual({ "Public 1": "join", "Public 2": "join" });
        expect(existsSync(runLockFile(s.alice.userId, s.aliceNew.userId))).toBe(false);
    } finally {
        first.child.kill("SIGKILL");
        await stalledA.close();
    }
}

export async function pageTwoTabs(ctx: PageContext): Promise<void> {
    const { bed, host } = ctx;
    const s = await smallAccount(bed, 2);
    // Another Element session (its own browser profile), signed in as this old account, in two tabs.
    const { page: first, context } = await openBrowserPage();
    try {
        await openMigrationPage(first, host.url, { userId: s.alice.userId, password: s.alice.password });
        await signInWithPassword(first, s.aliceNew, bed.b.baseUrl);
        await first.getByRole("button", { name: "Start migration" }).click();
        await first.getByRole("button", { name: "Pause" }).click();
        await first.getByText("Paused", { exact: true }).waitFor();

        const second = await context.newPage();
        await second.goto(`${host.url}#/migrate-account`);
        const offer = second.getByRole("button", { name: `Continue moving to ${s.aliceNew.userId}` });
        await offer.waitFor({ timeout: 30_000 });
        await offer.click();
        // Continuing, the account is the journal's (its field is read-only); its server's address is asked for.
        await signInToContinue(second, bed.b.baseUrl, s.aliceNew.password);
        await second.getByText("Continuing an interrupted migration").waitFor({ timeout: 30_000 });

        const mark = logMark([bed.a, bed.b]);
        await second.getByRole("button", { name: "Continue migration" }).click();
        await second
            .getByText("This migration is already running in another tab or window of this browser.", { exact: false })
            .waitFor();
        await second.getByRole("heading", { name: "Review the plan", exact: true }).waitFor();
        await expectNoChange(s.alice.userId, [bed.a, bed.b], mark);

        // The first tab closes (its run stops, the browser releases its lock): the second one continues at once.
        await first.close({ runBeforeUnload: true });
        await second.getByRole("button", { name: "Continue migration" }).click();
        await second.getByRole("heading", { name: "Done", exact: true }).waitFor({ timeout: 60_000 });
        expect(await newAccountIn(s)).toEqual({ "Public 1": "join", "Public 2": "join" });
    } finally {
        await context.close();
    }
}
