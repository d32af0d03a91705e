/**
 * The bad-input table (issue 11, section 4): each case once, with what the person sees and how the test proves nothing
 * changed or was lost, and how each front end meets it — the CLI (cliRunner.ts) and the Element page in headless
 * Chromium (pageRunner.ts). badInput.test.ts runs every case on every front end it names, in this order (the page's
 * cases follow one person through the steps: the account, signing in, the plan, the run, the report). The bad-input table in docs/testing.md
 * table lists the same cases; a test checks it does.
 */
import { readFileSync } from "node:fs";

import { JOURNAL_EVENT_TYPE } from "../../src/engine/journal.ts";
import { MEGOLM_BACKUP_ALGORITHM } from "../../src/keys/backupCrypto.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { changesIn, logMark, requestsSince } from "../bed/accessLog.ts";
import { registerUser, startExtraHomeserver, uniqueLocalpart } from "../bed/homeservers.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import { runCli } from "../cli/cliProcess.ts";
import { getAccountData, setAccountData } from "../support/scenario.ts";
import {
    type CliCase,
    type CliContext,
    expectStateKept,
    fixtureArgs,
    fixturePasswords,
    plainBase,
    plainTokens,
} from "./cliRunner.ts";
import { FOREIGN_BACKUP, HOSTILE_ACL_ROOM_NAME, MARKDOWN_ROOM_NAME, installBackupVersion } from "./fixture.ts";
import { DISCOVERY_ONLY, HIJACK_MARK, type HostileServer, startHostileOAuthServer } from "./hostileServer.ts";
import {
    type PageCase,
    type PageContext,
    type PageRoomRun,
    expectNoChange,
    reopenMigrationPage,
    runPageCase,
    toReview,
} from "./pageRunner.ts";
import { cliServerDown, pageServerDown } from "./serverDown.ts";
import { cliTwoRuns, pageTwoTabs } from "./twoRuns.ts";

export interface BadInputCase {
    /** The bad input or the situation, as docs/testing.md's table names it. */
    name: string;
    /** What the person is told, in short (the tests check the exact words; the page says them in their language). */
    sees: string;
    /** What proves, from the servers, that nothing changed or was lost ("no change", "room kept": see docs/testing.md). */
    proof: string;
    cli?: CliCase;
    page?: PageCase;
}

/** An account on B that has been deactivated by the server's admin, with its password and a token it had. */
async function deactivatedAccount(
    bed: BedDescription,
): Promise<{ userId: string; password: string; accessToken: string }> {
    const gone = await registerUser(bed.b, uniqueLocalpart("gone"));
    const admin = await registerUser(bed.b, uniqueLocalpart("admin"), { admin: true });
    await new MatrixHttp(bed.b.baseUrl, admin.accessToken).request("POST", `/deactivate/${seg(gone.userId)}`, {
        prefix: "/_synapse/admin/v1",
        body: {},
    });
    return gone;
}

/** An access token that was signed out (what "expired" looks like to a server). */
async function signedOutToken(hs: BedDescription["a"]): Promise<{ userId: string; accessToken: string }> {
    const stale = await registerUser(hs, uniqueLocalpart("stale"));
    await new MatrixHttp(hs.baseUrl, stale.accessToken).request("POST", "/logout", { body: {} });
    return stale;
}

/** A journal document of a format this tool does not know yet; `restore` puts the old one back. */
async function newerJournal(actor: Parameters<typeof getAccountData>[0]) {
    const before = (await getAccountData(actor, JOURNAL_EVENT_TYPE)) ?? {};
    const newer = { version: 2, migrations: { note: "written by a newer version" } };
    await setAccountData(actor, JOURNAL_EVENT_TYPE, newer);
    return {
        async unchanged() {
            expect(await getAccountData(actor, JOURNAL_EVENT_TYPE)).toEqual(newer);
        },
        restore: () => setAccountData(actor, JOURNAL_EVENT_TYPE, before),
    };
}

const malformedBackup = { algorithm: MEGOLM_BACKUP_ALGORITHM, auth_data: {} };

export const BAD_INPUT_CASES: BadInputCase[] = [
    {
        name: "malformed new account id",
        sees: "“not a Matrix account”, with the form an id takes",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({ args: [...plainBase(ctx), "--new-user", "alice-new"], env: plainTokens(ctx) }),
            message: /not a Matrix user id/,
        },
        page: { kind: "account", newUserId: () => "alice-new", message: "This is not a Matrix account." },
    },
    {
        name: "the new account is the old account",
        sees: "“that is the account you are moving from”",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [...plainBase(ctx), "--new-user", ctx.plain.alice.userId],
                env: { ...plainTokens(ctx), MIGRATE_NEW_ACCESS_TOKEN: ctx.plain.alice.accessToken },
            }),
            message: /must be a different account/,
        },
        page: {
            kind: "account",
            newUserId: (ctx) => ctx.t.alice.userId,
            message: "That is the account you are moving from. Enter the new account.",
        },
    },
    {
        name: "unreachable homeserver",
        sees: "“could not be reached”, check the address",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: ["--old-homeserver", "http://127.0.0.1:1", "--new-user", ctx.plain.newAccount.userId],
                env: plainTokens(ctx),
            }),
            message: /Could not reach http:\/\/127\.0\.0\.1:1/,
        },
        page: {
            kind: "account",
            newUserId: (ctx) => ctx.t.aliceNew.userId,
            homeserver: () => "http://127.0.0.1:1",
            message: "The homeserver could not be reached. Check its address and your connection.",
        },
    },
    {
        name: "an address that is not a homeserver",
        sees: "“answers, but it is not a Matrix homeserver”",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [
                    ...["--old-homeserver", `${ctx.plain.alice.homeserver.baseUrl}/nothing-here`],
                    ...["--new-user", ctx.plain.newAccount.userId],
                ],
                env: plainTokens(ctx),
            }),
            message: /not a Matrix homeserver/,
        },
        page: {
            kind: "account",
            newUserId: (ctx) => ctx.t.aliceNew.userId,
            // Element's own address, say: it answers, but not as a homeserver. (A browser cannot tell a homeserver's
            // 404 without CORS headers from a connection that failed, so the page is given a server that answers.)
            homeserver: (ctx) => ctx.host.url,
            message: "This address answers, but it is not a Matrix homeserver.",
        },
    },
    {
        name: "no .well-known for the new account's server",
        sees: "“could not be found from its name”: the address is asked for",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: ["--old-homeserver", ctx.plain.alice.homeserver.baseUrl, "--new-user", "@someone:localhost:1"],
                env: plainTokens(ctx),
            }),
            message: /Give its address explicitly/,
        },
        page: {
            kind: "account",
            newUserId: () => "@someone:localhost:1",
            message: "could not be found from its name. Enter the homeserver's address.",
        },
    },
    {
        name: "a homeserver address that is not encrypted (http, not on this machine)",
        sees: "“not encrypted (http, not https)”, refused",
        proof: "no change; nothing sent there",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [
                    ...["--old-homeserver", ctx.plain.alice.homeserver.baseUrl],
                    ...["--new-user", ctx.plain.newAccount.userId, "--new-homeserver", "http://matrix.example.org"],
                ],
                env: plainTokens(ctx),
            }),
            message: /not encrypted \(http, not https\)/,
        },
        page: {
            kind: "account",
            newUserId: (ctx) => ctx.t.aliceNew.userId,
            homeserver: () => "http://matrix.example.org",
            message: "The new account's homeserver is not on a secure (https) address",
        },
    },
    {
        name: "wrong password",
        sees: "“Wrong password” (the page: at the field, which is emptied)",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [...plainBase(ctx), "--new-user", ctx.plain.newAccount.userId],
                env: { MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken, MIGRATE_NEW_PASSWORD: "wrong" },
            }),
            message: /Wrong password/,
        },
        page: {
            kind: "sign-in",
            newUserId: (ctx) => ctx.t.aliceNew.userId,
            homeserver: (ctx) => ctx.bed.b.baseUrl,
            password: () => "not the password",
            message: "Wrong password for the new account.",
        },
    },
    {
        name: "expired (signed-out) access token",
        sees: "“access token is not valid”: expired, signed out, or its account deactivated",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [...plainBase(ctx), "--new-user", ctx.plain.newAccount.userId],
                env: {
                    ...plainTokens(ctx),
                    MIGRATE_OLD_ACCESS_TOKEN: (await signedOutToken(ctx.bed.a)).accessToken,
                },
            }),
            message: /access token is not valid/,
        },
        page: {
            kind: "sign-in",
            newUserId: async (ctx) => (await staleNewToken(ctx)).userId,
            homeserver: (ctx) => ctx.bed.b.baseUrl,
            accessToken: async (ctx) => (await staleNewToken(ctx)).accessToken,
            message: "This access token is not valid: it expired or was signed out, or its account was deactivated.",
        },
    },
    {
        name: "deactivated new account, signing in with its password",
        sees: "“wrong password — or the account has been deactivated” (Synapse does not tell the two apart)",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const gone = await deactivatedAccount(ctx.bed);
                return {
                    args: [...plainBase(ctx), "--new-user", gone.userId],
                    env: { MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken, MIGRATE_NEW_PASSWORD: gone.password },
                };
            },
            message: /has been deactivated/,
        },
        page: {
            kind: "sign-in",
            newUserId: async (ctx) => (await goneOnPage(ctx)).userId,
            homeserver: (ctx) => ctx.bed.b.baseUrl,
            password: async (ctx) => (await goneOnPage(ctx)).password,
            message:
                "Wrong password for the new account. If you are sure it is right, the account may have been deactivated",
        },
    },
    {
        name: "deactivated new account, with an access token it had",
        sees: "“access token is not valid … or its account was deactivated”",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const gone = await deactivatedAccount(ctx.bed);
                return {
                    args: [...plainBase(ctx), "--new-user", gone.userId],
                    env: { ...plainTokens(ctx), MIGRATE_NEW_ACCESS_TOKEN: gone.accessToken },
                };
            },
            message: /account was deactivated/,
        },
        page: {
            kind: "sign-in",
            newUserId: async (ctx) => (await goneOnPage(ctx)).userId,
            homeserver: (ctx) => ctx.bed.b.baseUrl,
            accessToken: async (ctx) => (await goneOnPage(ctx)).accessToken,
            message: "This access token is not valid: it expired or was signed out, or its account was deactivated.",
        },
    },
    {
        name: "a password for a server that only offers single sign-on",
        sees: "“does not accept passwords here; it offers single sign-on” (the page offers single sign-on instead)",
        proof: "no change, that server included",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                // A third real Synapse with password login off and an OpenID Connect provider configured (never
                // contacted: the CLI must stop at the list of sign-in methods).
                const sso = await startExtraHomeserver(ctx.bed, "C", {
                    password_config: { enabled: false },
                    oidc_providers: [
                        {
                            idp_id: "example",
                            idp_name: "Example SSO",
                            issuer: "http://127.0.0.1:9/",
                            discover: false,
                            client_id: "synapse",
                            client_secret: "secret",
                            authorization_endpoint: "http://127.0.0.1:9/auth",
                            token_endpoint: "http://127.0.0.1:9/token",
                            userinfo_endpoint: "http://127.0.0.1:9/userinfo",
                            skip_verification: true,
                            user_mapping_provider: { config: { localpart_template: "{{ user.preferred_username }}" } },
                        },
                    ],
                });
                return {
                    args: [
                        ...["--old-homeserver", ctx.plain.alice.homeserver.baseUrl, "--new-homeserver", sso.hs.baseUrl],
                        ...["--new-user", `@someone:${sso.hs.serverName}`],
                    ],
                    env: { MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken, MIGRATE_NEW_PASSWORD: "irrelevant" },
                    servers: [sso.hs],
                    cleanup: () => sso.stop(),
                };
            },
            message: /does not accept passwords here; it offers single sign-on/,
        },
    },
    {
        name: "a server with no sign-in the front end can do",
        sees: "“offers no sign-in method this tool supports” / “… this page supports; an access token still works”",
        proof: "no change, that server included",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const hs = await ctx.noMethodServer();
                return {
                    args: [
                        ...["--old-homeserver", ctx.plain.alice.homeserver.baseUrl, "--new-homeserver", hs.baseUrl],
                        ...["--new-user", `@someone:${hs.serverName}`],
                    ],
                    env: { MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken, MIGRATE_NEW_PASSWORD: "irrelevant" },
                    servers: [hs],
                };
            },
            message: /does not accept passwords here; it offers no sign-in method this tool supports/,
        },
        page: {
            kind: "account",
            newUserId: async (ctx) => `@someone:${(await ctx.noMethodServer()).serverName}`,
            homeserver: async (ctx) => (await ctx.noMethodServer()).baseUrl,
            message:
                "offers no way of signing in that this page supports. You can still use an access token (Advanced).",
            servers: async (ctx) => [await ctx.noMethodServer()],
        },
    },
    {
        name: "a secret on the command line",
        sees: "“secrets are only read from the environment” (the value never shown)",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [...plainBase(ctx), "--new-user", ctx.plain.newAccount.userId, "--password", "x-secret-x"],
                env: plainTokens(ctx),
            }),
            message: /only read from the environment/,
            notShown: ["x-secret-x"],
        },
    },
    {
        name: "missing secrets",
        sees: "which environment variables are needed",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({ args: [...plainBase(ctx), "--new-user", ctx.plain.newAccount.userId], env: {} }),
            message: /MIGRATE_OLD_ACCESS_TOKEN/,
        },
    },
    {
        name: "not run from a terminal, without --yes",
        sees: "“pass --yes”",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: [...plainBase(ctx), "--new-user", ctx.plain.newAccount.userId],
                env: plainTokens(ctx),
            }),
            message: /pass --yes/,
        },
    },
    {
        name: "wrong recovery key (the old account's, given another account's key)",
        sees: "“recovery key does not belong to” that account's backup",
        proof: "no change; the tool's sessions signed out",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: fixtureArgs(ctx, ["--yes"]),
                env: fixturePasswords(ctx, { MIGRATE_OLD_RECOVERY_KEY: ctx.t.demo.recoveryKeys.aliceNew }),
            }),
            message: /Old account's recovery key: That recovery key does not belong to/,
        },
        page: {
            kind: "start",
            keys: (ctx) => ({ old: ctx.t.demo.recoveryKeys.aliceNew, new: ctx.t.demo.recoveryKeys.aliceNew }),
            message: "A recovery key does not belong to that account's key backup.",
        },
    },
    {
        name: "malformed recovery key (the new account's)",
        sees: "which recovery key, and what is wrong with it (never echoed)",
        proof: "no change",
        cli: {
            kind: "refused",
            input: async (ctx) => ({
                args: fixtureArgs(ctx, ["--yes"]),
                env: fixturePasswords(ctx, { MIGRATE_NEW_RECOVERY_KEY: "EsT0 not a key" }),
            }),
            message: /New account's recovery key: /,
            notShown: ["EsT0 not a key"],
        },
        page: {
            kind: "start",
            keys: (ctx) => ({ old: ctx.t.demo.recoveryKeys.alice, new: "EsT0 not a key" }),
            message: "A recovery key",
        },
    },
    {
        name: "journal written by a newer version",
        sees: "“saved by a newer version … use that version”; nothing was changed",
        proof: "no change; the journal reads back as it was",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const journal = await newerJournal(ctx.t.alice);
                ctxJournal.set(ctx, journal);
                return {
                    args: fixtureArgs(ctx, ["--yes"]),
                    env: fixturePasswords(ctx),
                    cleanup: journal.restore,
                };
            },
            message: /written by a newer version of this tool \(format 2\)/,
            unchanged: (ctx) => ctxJournal.get(ctx)!.unchanged(),
        },
        page: {
            kind: "start",
            setup: async (ctx) => {
                const journal = await newerJournal(ctx.t.alice);
                ctxJournal.set(ctx, journal);
                return journal.restore;
            },
            keys: (ctx) => ({ old: ctx.t.demo.recoveryKeys.alice, new: ctx.t.demo.recoveryKeys.aliceNew }),
            message: "The progress of this migration was saved by a newer version of this module. Nothing was changed",
            unchanged: (ctx) => ctxJournal.get(ctx)!.unchanged(),
        },
    },
    {
        name: "two runs of the same migration at once (two processes; two tabs of one Element)",
        sees: "“already running on this machine (process N)” / “already running in another tab or window”",
        proof: "no change while the first runs; once it is killed or its tab closed, the next run goes on at once and finishes",
        cli: { kind: "custom", run: cliTwoRuns },
        page: { kind: "custom", run: pageTwoTabs },
    },
    {
        name: "a room's server ACL with backtracking globs",
        sees: "the plan, as without them: the room is to move",
        proof: "no change while planning; the plan shows at once, the room's row in “To move”",
        page: { kind: "custom", run: pageBacktrackingAcl },
    },
    {
        name: "no right to invite",
        sees: "needs action: “may not invite anyone to …”, with a message for an admin",
        proof: "room kept",
        cli: {
            kind: "room",
            room: "cannotInvite",
            outcome: "needs-action",
            reason: /may not invite anyone/,
            changes: [],
        },
        page: {
            kind: "room",
            room: "cannotInvite",
            group: "Needs action",
            reason: /may not invite anyone/,
            changes: [],
        },
    },
    {
        name: "new account banned",
        sees: "needs action: “… is banned from …”",
        proof: "room kept",
        cli: { kind: "room", room: "banned", outcome: "needs-action", reason: /is banned from/, changes: [] },
        page: { kind: "room", room: "banned", group: "Needs action", reason: /is banned from/, changes: [] },
    },
    {
        name: "server ACL denies the new server",
        sees: "needs action: “its server access list denies that server”",
        proof: "room kept",
        cli: {
            kind: "room",
            room: "aclDenied",
            outcome: "needs-action",
            reason: /server access list denies/,
            changes: [],
        },
        page: {
            kind: "room",
            room: "aclDenied",
            group: "Needs action",
            reason: /server access list denies/,
            changes: [],
        },
    },
    {
        name: "m.federate: false",
        sees: "skipped: “only allows accounts on …; … can never join it”",
        proof: "room kept",
        cli: { kind: "room", room: "notFederated", outcome: "skipped", reason: /can never join it/, changes: [] },
        page: { kind: "room", room: "notFederated", group: "Skipped", reason: /can never join it/, changes: [] },
    },
    {
        name: "creator-only power (room version 12)",
        sees: "moved; “the old account stays …: … has creators (the old account is one of them)”",
        proof: "only the new account's membership and level changed; the old account stays, still its creator",
        cli: {
            kind: "room",
            room: "creatorOnly",
            outcome: "migrated",
            reason: /^The old account stays in “Alice's club”: .* has creators \(the old account is one of them\)/,
            changes: ["m.room.member|NEW", "m.room.power_levels|"],
        },
        page: {
            kind: "room",
            room: "creatorOnly",
            group: "Moved",
            reason: /The old account stays in “Alice's club”/,
            changes: ["m.room.member|NEW", "m.room.power_levels|"],
        },
    },
    {
        name: "tombstoned room",
        sees: "skipped: “replaced by a newer room, which is migrated instead”",
        proof: "room kept; its successor moves",
        cli: { kind: "room", room: "tombstoned", outcome: "skipped", reason: /replaced by a newer room/, changes: [] },
        page: { kind: "room", room: "tombstoned", group: "Skipped", reason: /replaced by a newer room/, changes: [] },
    },
    {
        name: "a room named in Markdown (a line break, a heading, a link)",
        sees: "needs action, the name as text: in the report and in the exported Markdown (no heading, no link)",
        proof: "room kept; the Markdown file has only the report's own headings, no link and no HTML",
        page: { kind: "report", run: pageMarkdownReport },
    },
    {
        name: "backup key mismatch (the new backup is not the one its recovery key vouches for)",
        sees: "“the key backup does not match its recovery key: its server may have replaced it”",
        proof: "no change; that backup holds no key",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const foreign = await installBackupVersion(ctx.t.aliceNew, FOREIGN_BACKUP);
                ctxBackup.set(ctx, foreign);
                return {
                    args: fixtureArgs(ctx, ["--yes"]),
                    env: fixturePasswords(ctx, {
                        MIGRATE_OLD_RECOVERY_KEY: ctx.t.demo.recoveryKeys.alice,
                        MIGRATE_NEW_RECOVERY_KEY: ctx.t.demo.recoveryKeys.aliceNew,
                    }),
                    cleanup: foreign.remove,
                };
            },
            message: /does not match the key in its secret storage/,
            unchanged: async (ctx) => expect(await ctxBackup.get(ctx)!.sessions()).toBe(0),
        },
        page: {
            kind: "start",
            setup: async (ctx) => {
                const foreign = await installBackupVersion(ctx.t.aliceNew, FOREIGN_BACKUP);
                ctxBackup.set(ctx, foreign);
                return foreign.remove;
            },
            keys: (ctx) => ({ old: ctx.t.demo.recoveryKeys.alice, new: ctx.t.demo.recoveryKeys.aliceNew }),
            message: "The new account's key backup does not match its recovery key",
            unchanged: async (ctx) => expect(await ctxBackup.get(ctx)!.sessions()).toBe(0),
        },
    },
    {
        name: "malformed key backup (the new account's)",
        sees: "“the new account's key backup can't be used (its description is malformed)”; everything else moves",
        proof: "no change (CLI: a dry run; page: on the plan)",
        cli: {
            kind: "custom",
            run: async (ctx) => {
                const malformed = await installBackupVersion(ctx.t.aliceNew, malformedBackup);
                try {
                    const mark = logMark([ctx.bed.a, ctx.bed.b]);
                    const run = await runCli([...fixtureArgs(ctx, ["--dry-run"])], {
                        MIGRATE_OLD_ACCESS_TOKEN: ctx.t.alice.accessToken,
                        MIGRATE_NEW_ACCESS_TOKEN: ctx.t.aliceNew.accessToken,
                        MIGRATE_NEW_RECOVERY_KEY: ctx.t.demo.recoveryKeys.aliceNew,
                    });
                    expect(run.stderr).toMatch(
                        /Encrypted history: The new account's key backup cannot be used by this tool \(its description is malformed\)/,
                    );
                    expect(run.stderr).toMatch(/Dry run — nothing was changed/);
                    expect(changesIn(await requestsSince([ctx.bed.a, ctx.bed.b], mark))).toEqual([]);
                } finally {
                    await malformed.remove();
                }
            },
        },
        page: {
            kind: "custom",
            run: async (ctx) => {
                const malformed = await installBackupVersion(ctx.t.aliceNew, malformedBackup);
                try {
                    await reopenMigrationPage(ctx);
                    const mark = logMark([ctx.bed.a, ctx.bed.b]);
                    await toReview(ctx);
                    await ctx.page
                        .getByText(
                            "The new account's key backup can't be used by this tool (its description is malformed), so encrypted history can't be handed over to it. Everything else moves.",
                        )
                        .waitFor();
                    await expectNoChange(ctx.t.alice.userId, [ctx.bed.a, ctx.bed.b], mark);
                } finally {
                    await malformed.remove();
                }
            },
        },
    },
    {
        name: "the new server goes down mid-run",
        sees: "“a server is not answering; trying again”, then failed rooms: “Moving … stopped: …”",
        proof: "no room left without the new account in its place, the old account still in the rooms not moved (both servers); the CLI run again with the server back completes",
        cli: { kind: "custom", run: cliServerDown },
        page: { kind: "custom", run: pageServerDown },
    },
    // Issue 15: a hostile homeserver or room admin.
    {
        name: "a new homeserver whose OAuth 2.0 sign-in page is a javascript: address",
        sees: "“gave an address that is not safe to open”; nothing was opened or signed in",
        proof: "no change; no window opened, the script never ran, that server was only asked how to sign in",
        cli: {
            kind: "refused",
            input: async (ctx) => {
                const hostile = await startHostileOAuthServer();
                hostileServers.set(ctx, hostile);
                return {
                    args: [
                        ...[
                            "--old-homeserver",
                            ctx.plain.alice.homeserver.baseUrl,
                            "--new-homeserver",
                            hostile.baseUrl,
                        ],
                        ...["--new-user", `@someone:${hostile.serverName}`, "--new-sign-in", "oauth"],
                    ],
                    env: { MIGRATE_OLD_ACCESS_TOKEN: ctx.plain.alice.accessToken },
                    cleanup: hostile.close,
                };
            },
            message:
                /The server gave an address for its sign-in page \(OAuth 2\.0 authorization endpoint\) that this tool will not open: “javascript:/,
            notShown: ["Sign in at:"],
            unchanged: async (ctx) => expectOnlyDiscovery(hostileServers.get(ctx)!),
        },
        page: { kind: "custom", run: pageHostileSignIn },
    },
];

/**
 * The hostile sign-in on the page: the account on that server is refused with a clear message as soon as its server
 * names the javascript: page — no sign-in button for it, no window opened, the script's mark nowhere, nothing asked of
 * that server beyond how to sign in, and no change on A or B.
 */
async function pageHostileSignIn(ctx: PageContext): Promise<void> {
    const hostile = await startHostileOAuthServer();
    try {
        const windows = ctx.context.pages().length;
        await runPageCase(ctx, {
            kind: "account",
            newUserId: () => `@someone:${hostile.serverName}`,
            homeserver: () => hostile.baseUrl,
            message:
                "The new account's server gave an address that is not safe to open (only https addresses are used), so this page refused it. Nothing was opened or signed in.",
        });
        expect(await ctx.page.getByTestId("migration-sign-in-methods").count()).toBe(0);
        expect(ctx.context.pages().length).toBe(windows);
        expect(await ctx.page.title()).not.toBe(HIJACK_MARK);
        expectOnlyDiscovery(hostile);
    } finally {
        await hostile.close();
    }
}

/**
 * A room admin's backtracking server ACL globs (issue 15; as RegExps they froze the tab for 29 s): the plan shows as
 * without them — within the usual wait for the plan — and the room is to move; planning changed nothing.
 */
async function pageBacktrackingAcl(ctx: PageContext): Promise<void> {
    await reopenMigrationPage(ctx);
    const mark = logMark([ctx.bed.a, ctx.bed.b]);
    await toReview(ctx);
    const row = ctx.page
        .getByRole("region", { name: "To move", exact: true })
        .getByRole("listitem")
        .filter({ hasText: HOSTILE_ACL_ROOM_NAME });
    expect(await row.count()).toBe(1);
    await expectNoChange(ctx.t.alice.userId, [ctx.bed.a, ctx.bed.b], mark);
}

/**
 * The room named in Markdown, after the page's run: its row in the report shows the name as text (no link), and the
 * downloaded Markdown report names it only as escaped text — every heading the report's own, no link, image or HTML,
 * the admin message's quote of the name on one line.
 */
async function pageMarkdownReport(ctx: PageContext, run: PageRoomRun): Promise<void> {
    const { page, t } = ctx;
    const shown = MARKDOWN_ROOM_NAME.replace(/\n/g, " ");
    const row = page
        .getByRole("region", { name: "Needs action", exact: true })
        .getByRole("listitem")
        .filter({ hasText: shown });
    expect(await row.count()).toBe(1);
    expect(await row.locator("a, h1, h2, h3, h4, h5, h6").count()).toBe(0);
    const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download as Markdown" }).click(),
    ]);
    const markdown = readFileSync(await download.path(), "utf8");
    const lines = markdown.split("\n");
    // The headings are the report's own: its title, its groups, and one per admin request (each a room's name).
    const headings = lines.filter((l) => /^ {0,3}#/.test(l));
    expect(headings.filter((h) => !/^(# |## |### )/.test(h))).toEqual([]);
    expect(headings.filter((h) => /^#{1,2} .*Injected/.test(h))).toEqual([]);
    const escapedName = "Room \\# Injected heading \\[click here\\]\\(https\\:\\/\\/evil\\.example\\)";
    expect(lines).toContain(`### ${escapedName}`);
    expect(lines.filter((l) => l.startsWith("- **") && l.includes(escapedName))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("> ") && l.includes(`“${escapedName}”`))).toHaveLength(1);
    // Nothing of the room's making: no link, image, autolink or HTML anywhere, no line that starts with its text.
    expect(markdown).not.toMatch(/(^|[^\\])\]\(|https?:\/\/|<[a-z]/i);
    expect(lines.filter((l) => /^(\[click|# Injected)/.test(l))).toEqual([]);
    // And the room itself kept as it was.
    const id = t.blocked.markdownName;
    expectStateKept(run.before[id]!, run.after[id]!, [], t.aliceNew.userId, t.alice.userId);
    expect(run.unsafe).toEqual([]);
}

function expectOnlyDiscovery(hostile: HostileServer): void {
    expect(hostile.requests.filter((r) => !DISCOVERY_ONLY.test(r))).toEqual([]);
    expect(hostile.requests).toContain("GET /_matrix/client/v1/auth_metadata");
}

const hostileServers = new WeakMap<CliContext | PageContext, HostileServer>();

/** What a case set up for its checks, per front end's context (a case runs once per front end). */
const ctxJournal = new WeakMap<CliContext | PageContext, Awaited<ReturnType<typeof newerJournal>>>();
const ctxBackup = new WeakMap<CliContext | PageContext, Awaited<ReturnType<typeof installBackupVersion>>>();

/** Made once per page run: a deactivated account, and a signed-out token of an account on B. */
const goneAccounts = new WeakMap<PageContext, ReturnType<typeof deactivatedAccount>>();
const staleTokens = new WeakMap<PageContext, ReturnType<typeof signedOutToken>>();
function goneOnPage(ctx: PageContext) {
    if (!goneAccounts.has(ctx)) goneAccounts.set(ctx, deactivatedAccount(ctx.bed));
    return goneAccounts.get(ctx)!;
}
function staleNewToken(ctx: PageContext) {
    if (!staleTokens.has(ctx)) staleTokens.set(ctx, signedOutToken(ctx.bed.b));
    return staleTokens.get(ctx)!;
}
