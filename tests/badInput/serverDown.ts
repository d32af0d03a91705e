/**
 * "The new server goes down mid-run", on both front ends: the new account's server is reached through a proxy that
 * stops forwarding anything (every connection closed at once) after the second room's join is asked for. The run waits
 * and retries as it does for any outage, then ends with the rooms it could not finish marked failed and why; the old
 * account has left no room the new account does not fully replace it in, and is still in every room the new account
 * did not get into. The CLI's case leaves the old rooms (the leave gate meets the outage too) and, with the server back,
 * runs again to the end.
 */
import { startFaultProxy } from "../bed/faultProxy.ts";
import { openBrowserPage } from "../browser/chromium.ts";
import { runCli } from "../cli/cliProcess.ts";
import { getState } from "../support/scenario.ts";
import { unsafeLeaves } from "../proof/migrationState.ts";
import { openMigrationPage, signInWithPassword } from "../signIn/support.ts";
import type { CliContext } from "./cliRunner.ts";
import { type SmallAccount, smallAccount } from "./fixture.ts";
import type { PageContext } from "./pageRunner.ts";
import { newAccountIn } from "./twoRuns.ts";
import { cliArgs } from "../support/cli.ts";

/** The new server behind a proxy that goes down for good once the second join is asked for (until `up()`). */
async function failingNewServer(ctx: { bed: CliContext["bed"] }) {
    let down = false;
    let joins = 0;
    const proxy = await startFaultProxy(ctx.bed.b.baseUrl, (method, path) => {
        if (!down && method === "POST" && path.includes("/join/")) down = ++joins === 2;
        return down ? { kind: "drop-request" } : undefined;
    });
    return {
        proxy,
        up() {
            down = false;
        },
    };
}

/**
 * Nothing lost, read from both servers: no room left unsafely, and the old account still in every room the new
 * account did not get into. Returns those rooms (the run really was cut short when there are some).
 */
async function nothingLost(s: SmallAccount): Promise<string[]> {
    expect(await unsafeLeaves(s)).toEqual([]);
    const notMoved = Object.entries(await newAccountIn(s))
        .filter(([, membership]) => membership !== "join")
        .map(([name]) => name);
    for (const name of notMoved) {
        const old = await getState<{ membership?: string }>(s.alice, s.rooms[name]!, "m.room.member", s.alice.userId);
        expect({ name, membership: old.membership }).toEqual({ name, membership: "join" });
    }
    return notMoved;
}

export async function cliServerDown(ctx: CliContext): Promise<void> {
    const s = await smallAccount(ctx.bed, 2);
    const server = await failingNewServer(ctx);
    try {
        const args = cliArgs(
            { oldHomeserver: ctx.bed.a.baseUrl, newUser: s.aliceNew.userId, newHomeserver: server.proxy.baseUrl },
            ...["--yes", "--leave-old-rooms"],
        );
        const env = { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_ACCESS_TOKEN: s.aliceNew.accessToken };
        const run = await runCli(args, env);
        expect({ code: run.code, stderr: run.stderr }).toEqual({
            code: 1,
            stderr: expect.stringMatching(/✗ (Public \d): Moving “\1” stopped: .*could not reach the server/),
        });
        expect(run.stderr).toMatch(/Waiting \d+s \(new:\w+\): server unreachable/);
        expect((await nothingLost(s)).length).toBeGreaterThan(0);

        server.up();
        const again = await runCli(args, env);
        expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
        expect(await newAccountIn(s)).toEqual({ "Public 1": "join", "Public 2": "join" });
        await nothingLost(s);
    } finally {
        await server.proxy.close();
    }
}

export async function pageServerDown(ctx: PageContext): Promise<void> {
    const { bed, host } = ctx;
    const s = await smallAccount(bed, 2);
    const server = await failingNewServer(ctx);
    const { page, context } = await openBrowserPage();
    try {
        await openMigrationPage(page, host.url, { userId: s.alice.userId, password: s.alice.password });
        // The person gives the new server's address: here, the proxy in front of it.
        await signInWithPassword(page, s.aliceNew, server.proxy.baseUrl);
        // Without leaving the old rooms here (the CLI's case shows the leave gate through the outage): one wait, not two.
        await page.getByRole("button", { name: "Start migration" }).click();
        await page.getByText(/a server is not answering; trying again/).waitFor({ timeout: 30_000 });
        await page.getByRole("heading", { name: "Done", exact: true }).waitFor({ timeout: 120_000 });
        const failed = await page
            .getByRole("region", { name: "Failed", exact: true })
            .getByRole("listitem")
            .allTextContents();
        expect(failed.join("\n")).toMatch(/Moving “Public \d” stopped/);
        expect((await nothingLost(s)).length).toBeGreaterThan(0);
    } finally {
        await context.close();
        await server.proxy.close();
    }
}
