/**
 * The CLI's side of the bad-input table: the built CLI as its own process (tests/cli/cliProcess.ts), and what each
 * kind of case asserts — a refusal (exit 2, its message, "Nothing was changed.", no change on either server by
 * anyone, no session of the tool left), or a room the run reports with its reason and leaves as it was.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import type { Homeserver } from "../bed/homeservers.ts";
import { changesIn, logMark, requestsSince } from "../bed/accessLog.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import type { Actor } from "../support/scenario.ts";
import { runCli } from "../cli/cliProcess.ts";
import { unsafeLeaves } from "../proof/migrationState.ts";
import { type BadInputAccount, roomState, stateChanges, toolSessions } from "./fixture.ts";

export interface CliContext {
    bed: BedDescription;
    /** The old account with every kind of room, and its new account (this front end's own copy). */
    t: BadInputAccount;
    /** Two empty accounts, old on A and new on B, signed in with access tokens. */
    plain: { alice: Actor; newAccount: Actor };
    /** A server whose sign-in neither front end can do (no password, no single sign-on), started once. */
    noMethodServer(): Promise<Homeserver>;
    workDir: string;
}

export interface CliInput {
    args: string[];
    env: Record<string, string>;
    /** Servers besides A and B whose logs must show no change either. */
    servers?: Homeserver[];
    /** Undoes what the input set up (after the checks). */
    cleanup?(): Promise<void>;
}

export type CliCase =
    | {
          kind: "refused";
          input(ctx: CliContext): Promise<CliInput>;
          message: RegExp;
          /** Values (e.g. a mistyped secret) the output must never show. */
          notShown?: string[];
          /** Something else that must still be as it was (read from the servers). */
          unchanged?(ctx: CliContext): Promise<void>;
      }
    | RoomCase
    | { kind: "custom"; run(ctx: CliContext): Promise<void> };

/** A room that cannot move (or not fully): what the report says about it, and the only state the run may change. */
export interface RoomCase {
    kind: "room";
    room: keyof BadInputAccount["blocked"];
    outcome: "needs-action" | "skipped" | "migrated";
    reason: RegExp;
    /** State entries ("type|state_key", NEW for the new account's id) the run may change; [] for none. */
    changes: string[];
}

export const plainTokens = (ctx: CliContext): Record<string, string> => ({
    MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken,
    MIGRATE_NEW_ACCESS_TOKEN: ctx.plain.newAccount.accessToken,
});

/** The plain accounts' homeservers, given explicitly. */
export const plainBase = (ctx: CliContext): string[] => [
    "--old-homeserver",
    ctx.plain.alice.homeserver.baseUrl,
    "--new-homeserver",
    ctx.plain.newAccount.homeserver.baseUrl,
];

/** The arguments for migrating the bad-input account, signed in with both passwords. */
export function fixtureArgs(ctx: CliContext, extra: string[] = []): string[] {
    const { t, bed } = ctx;
    return [
        ...["--old-homeserver", bed.a.baseUrl, "--old-user", t.alice.userId],
        ...["--new-user", t.aliceNew.userId, "--new-homeserver", bed.b.baseUrl],
        ...extra,
    ];
}

export function fixturePasswords(ctx: CliContext, extra: Record<string, string> = {}): Record<string, string> {
    return {
        MIGRATE_OLD_PASSWORD: ctx.t.demo.users.alice.password,
        MIGRATE_NEW_PASSWORD: ctx.t.demo.users.aliceNew.password,
        ...extra,
    };
}

/** Signed in, the tool's sessions are signed out again: none is left on either account of the fixture. */
async function noSessionLeft(ctx: CliContext): Promise<void> {
    expect([
        ...(await toolSessions(ctx.t.adminA, ctx.t.alice.userId)),
        ...(await toolSessions(ctx.t.adminB, ctx.t.aliceNew.userId)),
    ]).toEqual([]);
}

export async function expectRefused(ctx: CliContext, c: Extract<CliCase, { kind: "refused" }>): Promise<void> {
    const input = await c.input(ctx);
    try {
        const servers = [ctx.bed.a, ctx.bed.b, ...(input.servers ?? [])];
        const mark = logMark(servers);
        const result = await runCli(input.args, input.env);
        expect({ code: result.code, stderr: result.stderr }).toEqual({
            code: 2,
            stderr: expect.stringMatching(c.message),
        });
        expect(result.stderr).toMatch(/Nothing was changed/);
        for (const value of c.notShown ?? []) expect(result.stderr + result.stdout).not.toContain(value);
        // Signing in is the only POST allowed; federation between the servers is not ours.
        expect(changesIn(await requestsSince(servers, mark))).toEqual([]);
        await noSessionLeft(ctx);
        await c.unchanged?.(ctx);
    } finally {
        await input.cleanup?.();
    }
}

/**
 * The one migration of the fixture the room cases look at: with --leave-old-rooms and both recovery keys, so the old
 * account leaves every room the new account fully replaces it in — and must stay in the others. Each blocked room's
 * state is read before and after from the old account's server.
 */
export interface RoomRun {
    report: { rooms: Array<{ roomId: string; outcome: string; reason: string; left: boolean }> };
    before: Record<string, Record<string, string>>;
    after: Record<string, Record<string, string>>;
    unsafe: string[];
}

export async function runForRooms(ctx: CliContext): Promise<RoomRun> {
    const { t } = ctx;
    const state = async () =>
        Object.fromEntries(
            await Promise.all(
                Object.entries(t.blocked).map(async ([, id]) => [id, await roomState(t.adminA, id)] as const),
            ),
        );
    const before = await state();
    const reportFile = path.join(ctx.workDir, "rooms.json");
    const result = await runCli(
        fixtureArgs(ctx, ["--yes", "--leave-old-rooms", "--report", reportFile]),
        fixturePasswords(ctx, {
            MIGRATE_OLD_RECOVERY_KEY: t.demo.recoveryKeys.alice,
            MIGRATE_NEW_RECOVERY_KEY: t.demo.recoveryKeys.aliceNew,
        }),
    );
    // Some rooms need an admin: exit 3, not a failure.
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 3, stderr: expect.any(String) });
    return {
        report: JSON.parse(readFileSync(reportFile, "utf8")),
        before,
        after: await state(),
        unsafe: await unsafeLeaves(t),
    };
}

/** The room's row in the report and its state on the old account's server, as the case says. */
export function expectRoom(ctx: CliContext, run: RoomRun, c: RoomCase): void {
    const roomId = ctx.t.blocked[c.room];
    const row = run.report.rooms.find((r) => r.roomId === roomId);
    expect(row).toMatchObject({ outcome: c.outcome, left: false, reason: expect.stringMatching(c.reason) });
    expectStateKept(run.before[roomId]!, run.after[roomId]!, c.changes, ctx.t.aliceNew.userId, ctx.t.alice.userId);
    expect(run.unsafe).toEqual([]);
}

/**
 * Only the entries the case allows changed (NEW stands for the new account); the old account is still joined, with
 * the same membership event.
 */
export function expectStateKept(
    before: Record<string, string>,
    after: Record<string, string>,
    allowed: string[],
    newUserId: string,
    oldUserId: string,
): void {
    expect(stateChanges(before, after)).toEqual(allowed.map((k) => k.replace("NEW", newUserId)).sort());
    expect(after[`m.room.member|${oldUserId}`]).toBe(before[`m.room.member|${oldUserId}`]);
}
