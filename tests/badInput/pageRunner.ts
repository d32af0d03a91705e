/**
 * The Element page's side of the bad-input table, in headless Chromium, driven by role and label: the host page (the
 * project's Element stand-in) signed in as the old account, the module's "Migrate account" page, and what each kind of
 * case asserts — the message the person sees, and no change on either server by anyone since the bad input was given
 * (Synapse's access logs), or a room the run reports with its reason and leaves as it was.
 */
import type { BrowserContext, Page } from "playwright-core";

import type { HostServer } from "../../host/server.ts";
import { type LoggedRequest, changesIn, logMark, requestsSince } from "../bed/accessLog.ts";
import type { Homeserver } from "../bed/homeservers.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import { unsafeLeaves } from "../proof/migrationState.ts";
import { giveKeys } from "../signIn/support.ts";
import { type RoomCase, expectStateKept } from "./cliRunner.ts";
import { type BadInputAccount, roomState } from "./fixture.ts";

export interface PageContext {
    bed: BedDescription;
    t: BadInputAccount;
    host: HostServer;
    context: BrowserContext;
    /** The tab the cases use (replaced when a case reloads Element). */
    page: Page;
    noMethodServer(): Promise<Homeserver>;
}

type Value = (ctx: PageContext) => string | Promise<string>;

export type PageCase =
    /** The account (and its homeserver address) is refused, or its server offers nothing this page can do. */
    | {
          kind: "account";
          newUserId: Value;
          homeserver?: Value;
          message: string;
          servers?(ctx: PageContext): Promise<Homeserver[]>;
      }
    /** Signing in with what the person typed is refused. */
    | {
          kind: "sign-in";
          newUserId: Value;
          homeserver: Value;
          password?: Value;
          accessToken?: Value;
          message: string;
      }
    /** Starting the run from the plan review is refused (keys, journal): the page goes back to the plan. */
    | {
          kind: "start";
          keys(ctx: PageContext): { old?: string; new?: string };
          /** Sets something up on the servers; returns what undoes it (after the checks). */
          setup?(ctx: PageContext): Promise<() => Promise<void>>;
          message: string;
          unchanged?(ctx: PageContext): Promise<void>;
      }
    | (Omit<RoomCase, "outcome"> & { group: "Needs action" | "Skipped" | "Moved" })
    | { kind: "custom"; run(ctx: PageContext): Promise<void> }
    /** A check of the report of the page's one run of the fixture (the run is made first if no room case made it). */
    | { kind: "report"; run(ctx: PageContext, run: PageRoomRun): Promise<void> };

const heading = (page: Page, name: string) => page.getByRole("heading", { name, exact: true });

/** The visible message, wherever the page shows it (under a field, in an alert, as a note). */
export async function sees(page: Page, message: string): Promise<void> {
    try {
        await page.getByText(message, { exact: false }).first().waitFor({ timeout: 30_000 });
    } catch (e) {
        const shown = await page
            .locator("main")
            .innerText()
            .catch(() => "(nothing)");
        throw new Error(`The page does not say “${message}”. It shows:\n${shown}`, { cause: e });
    }
}

/** Element opened again at the migration page (the tab reloaded: the module's state starts afresh). */
export async function reopenMigrationPage(ctx: PageContext): Promise<void> {
    await ctx.page.goto(`${ctx.host.url}#/migrate-account`);
    await ctx.page.reload();
    await heading(ctx.page, "Sign in to the new account").waitFor({ timeout: 30_000 });
}

/** To the account field of the sign-in step, from wherever the page is. */
async function toAccountForm(ctx: PageContext): Promise<void> {
    const { page } = ctx;
    if (await heading(page, "Done").count()) await page.getByRole("button", { name: "Finish" }).click();
    else if (await heading(page, "Review the plan").count()) await reopenMigrationPage(ctx);
    await heading(page, "Sign in to the new account").waitFor();
    const another = page.getByRole("button", { name: "Use another account" });
    if (await another.count()) await another.click();
    await page.getByRole("textbox", { name: "New account", exact: true }).waitFor();
}

/** Types the account; gives its homeserver's address the way a person does: when the page asks for it. */
async function typeAccount(ctx: PageContext, newUserId: string, homeserver: string | undefined): Promise<void> {
    const { page } = ctx;
    await toAccountForm(ctx);
    await page.getByRole("textbox", { name: "New account", exact: true }).fill(newUserId);
    const field = page.getByRole("textbox", { name: "Its homeserver address" });
    if (homeserver === undefined) {
        if (await field.count()) await field.fill("");
        return;
    }
    if (!(await field.count())) {
        await page.getByRole("button", { name: "Continue", exact: true }).click();
        await field.waitFor();
    }
    await field.fill(homeserver);
}

async function findAccount(ctx: PageContext, newUserId: string, homeserver: string): Promise<void> {
    await typeAccount(ctx, newUserId, homeserver);
    await ctx.page.getByRole("button", { name: "Continue", exact: true }).click();
    await ctx.page.getByTestId("migration-sign-in-methods").waitFor({ timeout: 30_000 });
}

/** Signed in to the fixture's new account with its password, on the plan review. */
export async function toReview(ctx: PageContext): Promise<void> {
    const { page, t, bed } = ctx;
    if (await heading(page, "Review the plan").count()) return;
    await findAccount(ctx, t.aliceNew.userId, bed.b.baseUrl);
    await page.getByRole("textbox", { name: "Password of the new account" }).fill(t.demo.users.aliceNew.password);
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await heading(page, "Review the plan").waitFor({ timeout: 30_000 });
}

/**
 * No change on these servers by anyone since `mark` was taken — but Element's own: its session (signed in as the old
 * account, `elementUserId`) keeps its device's one-time keys topped up (keys/upload), which the module never does.
 */
export async function expectNoChange(
    elementUserId: string,
    servers: Homeserver[],
    mark: Map<string, number>,
): Promise<void> {
    const elementsOwn = (r: LoggedRequest) => r.user === elementUserId && r.path.endsWith("/keys/upload");
    expect(changesIn(await requestsSince(servers, mark)).filter((r) => !elementsOwn(r))).toEqual([]);
}

export async function runPageCase(
    ctx: PageContext,
    c: Exclude<PageCase, { kind: "room" | "custom" | "report" }>,
): Promise<void> {
    const { page, bed } = ctx;
    let servers = [bed.a, bed.b];
    switch (c.kind) {
        case "account": {
            await typeAccount(ctx, await c.newUserId(ctx), c.homeserver && (await c.homeserver(ctx)));
            servers = [...servers, ...((await c.servers?.(ctx)) ?? [])];
            const mark = logMark(servers);
            await page.getByRole("button", { name: "Continue", exact: true }).click();
            await sees(page, c.message);
            expect(await heading(page, "Review the plan").count()).toBe(0);
            await expectNoChange(ctx.t.alice.userId, servers, mark);
            return;
        }
        case "sign-in": {
            await findAccount(ctx, await c.newUserId(ctx), await c.homeserver(ctx));
            const mark = logMark(servers);
            if (c.password) {
                await page.getByRole("textbox", { name: "Password of the new account" }).fill(await c.password(ctx));
                await page.getByRole("button", { name: "Sign in to the new account" }).click();
            } else {
                await page.getByText("Advanced: use an access token").click();
                await page
                    .getByRole("textbox", { name: "Access token of the new account" })
                    .fill(await c.accessToken!(ctx));
                await page.getByRole("button", { name: "Use this access token" }).click();
            }
            await sees(page, c.message);
            expect(await heading(page, "Review the plan").count()).toBe(0);
            await expectNoChange(ctx.t.alice.userId, servers, mark);
            return;
        }
        case "start": {
            await toReview(ctx);
            const undo = await c.setup?.(ctx);
            try {
                await giveKeys(page, c.keys(ctx));
                const mark = logMark(servers);
                await page.getByRole("button", { name: /^(Start|Continue) migration$/ }).click();
                await sees(page, c.message);
                // Back on the plan, nothing started.
                await heading(page, "Review the plan").waitFor();
                await expectNoChange(ctx.t.alice.userId, servers, mark);
                await c.unchanged?.(ctx);
            } finally {
                await undo?.();
            }
            return;
        }
    }
}

/** The page's one run of the fixture, for the room cases: the same choices as the CLI's (leave, both keys). */
export interface PageRoomRun {
    before: Record<string, Record<string, string>>;
    after: Record<string, Record<string, string>>;
    unsafe: string[];
}

export async function pageRunForRooms(ctx: PageContext): Promise<PageRoomRun> {
    const { page, t } = ctx;
    const state = async () =>
        Object.fromEntries(
            await Promise.all(Object.values(t.blocked).map(async (id) => [id, await roomState(t.adminA, id)] as const)),
        );
    await toReview(ctx);
    const before = await state();
    await page
        .getByRole("checkbox", {
            name: "Leave each old room once the new account is safely in it (with its admin rights and keys)",
        })
        .check();
    await giveKeys(page, { old: t.demo.recoveryKeys.alice, new: t.demo.recoveryKeys.aliceNew });
    await page.getByRole("button", { name: "Start migration" }).click();
    await heading(page, "Done").waitFor({ timeout: 120_000 });
    return { before, after: await state(), unsafe: await unsafeLeaves(t) };
}

/** The room's row in the report's group shows its reason; its state is as the case says. */
export async function expectPageRoom(
    ctx: PageContext,
    run: PageRoomRun,
    c: Extract<PageCase, { kind: "room" }>,
): Promise<void> {
    const roomId = ctx.t.blocked[c.room];
    const name = await roomName(ctx, roomId);
    const row = ctx.page
        .getByRole("region", { name: c.group, exact: true })
        .getByRole("listitem")
        .filter({ hasText: name });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toMatch(c.reason);
    expectStateKept(run.before[roomId]!, run.after[roomId]!, c.changes, ctx.t.aliceNew.userId, ctx.t.alice.userId);
    expect(run.unsafe).toEqual([]);
}

async function roomName(ctx: PageContext, roomId: string): Promise<string> {
    const { name } = await ctx.t.alice.http.request<{ name: string }>(
        "GET",
        `/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`,
    );
    return name;
}
