/**
 * The bad-input table (issue 11, section 4; the cases are in cases.ts): every case on every front end it names — the
 * CLI as its own process and the Element page in headless Chromium — against the two real servers. Each ends with a
 * clear message, and the servers themselves show nothing changed or was lost. Then, on each front end, the other side
 * of the backup-trust rule: keys reach a backup that failed verification only after the person's explicit consent.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import type { Page } from "playwright-core";

import { type HostServer, startHostServer } from "../../host/server.ts";
import { stopAllClients } from "../bed/clients.ts";
import { type Homeserver, registerUser, startExtraHomeserver, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";
import { closeBrowsers, openBrowserPage } from "../browser/chromium.ts";
import { runCli } from "../cli/cliProcess.ts";
import { giveKeys, openMigrationPage } from "../signIn/support.ts";
import { BAD_INPUT_CASES } from "./cases.ts";
import {
    type CliContext,
    type RoomRun,
    expectRefused,
    expectRoom,
    fixtureArgs,
    fixturePasswords,
    runForRooms,
} from "./cliRunner.ts";
import {
    FOREIGN_BACKUP,
    buildBadInputAccount,
    installBackupVersion,
    oldBackupSessionsInJoinedRooms,
} from "./fixture.ts";
import {
    type PageContext,
    type PageRoomRun,
    expectPageRoom,
    pageRunForRooms,
    reopenMigrationPage,
    runPageCase,
    toReview,
} from "./pageRunner.ts";
import { sessionFor } from "../support/scenario.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-bad-input-"));

/** A fourth real Synapse with password login off and no single sign-on: nothing either front end can sign in with. */
let noMethod: ReturnType<typeof startExtraHomeserver> | undefined;
const noMethodServer = async (): Promise<Homeserver> =>
    (await (noMethod ??= startExtraHomeserver(currentBed(), "D", { password_config: { enabled: false } }, 4))).hs;

afterAll(async () => {
    await closeBrowsers();
    await (await noMethod)?.stop();
    await stopAllClients();
});

test("the bad-input table in docs/testing.md lists every case, with the front ends it runs on", () => {
    const table = readFileSync(path.join(PROJECT_ROOT, "docs", "testing.md"), "utf8");
    for (const c of BAD_INPUT_CASES) {
        const where = [c.cli && "CLI", c.page && "page"].filter(Boolean).join(", ");
        const row = new RegExp(`^\\| ${c.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} +\\| ${where} +\\|`, "m");
        expect({ name: c.name, listed: row.test(table) }).toEqual({
            name: c.name,
            listed: true,
        });
    }
    expect(BAD_INPUT_CASES.length).toBeGreaterThanOrEqual(25);
});

describe("the CLI", () => {
    let ctx: CliContext;
    let rooms: Promise<RoomRun> | undefined;

    beforeAll(async () => {
        const bed = currentBed();
        const plain = async (hs: typeof bed.a, prefix: string) => {
            const u = await registerUser(hs, uniqueLocalpart(prefix));
            return sessionFor(hs, u);
        };
        ctx = {
            bed,
            t: await buildBadInputAccount(bed),
            plain: { alice: await plain(bed.a, "alice"), newAccount: await plain(bed.b, "new") },
            noMethodServer,
            workDir,
        };
    }, 120_000);

    test.each(BAD_INPUT_CASES.filter((c) => c.cli).map((c) => [c.name, c.cli!] as const))(
        "%s",
        async (_name, c) => {
            if (c.kind === "refused") await expectRefused(ctx, c);
            else if (c.kind === "room") expectRoom(ctx, await (rooms ??= runForRooms(ctx)), c);
            else await c.run(ctx);
        },
        180_000,
    );

    test("keys go to a backup that failed verification only with explicit consent (--trust-new-backup), read back from the server", async () => {
        const { t } = ctx;
        await (rooms ??= runForRooms(ctx));
        const foreign = await installBackupVersion(t.aliceNew, FOREIGN_BACKUP);
        try {
            // Without its recovery key and without consent, the run goes on and hands nothing to that backup.
            const keys = { MIGRATE_OLD_RECOVERY_KEY: t.demo.recoveryKeys.alice };
            const unconsented = await runCli(fixtureArgs(ctx, ["--yes"]), fixturePasswords(ctx, keys));
            expect(unconsented.stderr).toMatch(/Encrypted history: The new account's key backup could not be checked/);
            expect(await foreign.sessions()).toBe(0);
            const consented = await runCli(
                fixtureArgs(ctx, ["--yes", "--trust-new-backup"]),
                fixturePasswords(ctx, keys),
            );
            expect(consented.stderr).toMatch(/Room keys: \d+ found, \d+ handed over, 0 missing/);
            const expected = await oldBackupSessionsInJoinedRooms(t);
            expect(expected).toBeGreaterThan(0);
            expect(await foreign.sessions()).toBe(expected);
        } finally {
            await foreign.remove();
        }
    }, 120_000);
});

describe("the Element page (headless Chromium)", () => {
    let ctx: PageContext;
    let host: HostServer;
    let logs: string[];
    let rooms: Promise<PageRoomRun> | undefined;

    beforeAll(async () => {
        const bed = currentBed();
        const t = await buildBadInputAccount(bed);
        host = await startHostServer({
            config: {
                default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
            },
        });
        const opened = await openBrowserPage();
        logs = opened.logs;
        await openMigrationPage(opened.page, host.url, t.demo.users.alice);
        ctx = { bed, t, host, context: opened.context, page: opened.page, noMethodServer };
    }, 120_000);

    afterAll(async () => {
        await host?.close();
    });

    test.each(BAD_INPUT_CASES.filter((c) => c.page).map((c) => [c.name, c.page!] as const))(
        "%s",
        async (_name, c) => {
            if (c.kind === "room") await expectPageRoom(ctx, await (rooms ??= pageRunForRooms(ctx)), c);
            else if (c.kind === "custom") await c.run(ctx);
            else if (c.kind === "report") await c.run(ctx, await (rooms ??= pageRunForRooms(ctx)));
            else await runPageCase(ctx, c);
        },
        180_000,
    );

    test("keys go to a backup that failed verification only after ticking “Hand the keys over without checking”, read back from the server", async () => {
        const { t } = ctx;
        await (rooms ??= pageRunForRooms(ctx));
        const foreign = await installBackupVersion(t.aliceNew, FOREIGN_BACKUP);
        const page: Page = ctx.page;
        try {
            await reopenMigrationPage(ctx);
            await toReview(ctx);
            // Without the box ticked (and without its recovery key), the run hands nothing to that backup.
            await giveKeys(page, { old: t.demo.recoveryKeys.alice });
            await page.getByRole("button", { name: "Start migration" }).click();
            await page.getByRole("heading", { name: "Done", exact: true }).waitFor({ timeout: 120_000 });
            expect(await foreign.sessions()).toBe(0);
            await page.getByRole("button", { name: "Finish" }).click();
            await toReview(ctx);
            await giveKeys(page, { old: t.demo.recoveryKeys.alice });
            await page.getByRole("checkbox", { name: "Hand the keys over without checking" }).check();
            await page.getByRole("button", { name: "Start migration" }).click();
            await page.getByRole("heading", { name: "Done", exact: true }).waitFor({ timeout: 120_000 });
            const expected = await oldBackupSessionsInJoinedRooms(t);
            expect(expected).toBeGreaterThan(0);
            expect(await foreign.sessions()).toBe(expected);
        } finally {
            await foreign.remove();
        }
    }, 240_000);

    test("no errors on the page", () => {
        expect(logs.filter((l) => l.startsWith("[pageerror]"))).toEqual([]);
    });
});
