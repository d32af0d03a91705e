/**
 * `matrix-account-migrate`: the engine without Element, for people on other clients and for admins. Signs in both
 * accounts (secrets from the environment, or single sign-on / OAuth 2.0 in a browser), reads the old account with one
 * /sync, shows the plan, asks, runs, reports.
 */
import { createInterface } from "node:readline/promises";

import { checkJournalBeforeRun } from "../engine/journalStore.ts";
import { NewerJournalError } from "../engine/journal.ts";
import { type MigrationReport, reportExitCode, runMigration } from "../engine/migration.ts";
import { historyLosses, previewPlanHistory } from "../engine/history.ts";
import { type MigrationPlan, buildPlan, invitesNeeded } from "../engine/plan.ts";
import { Scheduler } from "../engine/scheduler.ts";
import { type SignInMethod, checkHomeserver, discoverSignIn, resolveNewHomeserver } from "../sessions/discovery.ts";
import { isMatrixRequestError } from "../sessions/matrixHttp.ts";
import type { SignedInSession } from "../sessions/session.ts";
import {
    SignInError,
    type SignInMethodName,
    checkTarget,
    isSignInError,
    sessionFromAccessToken,
    signIn,
} from "../sessions/signIn.ts";
import { snapshotFromSync } from "../sessions/snapshots.ts";
import { checkedRedirects } from "../sessions/serverUrl.ts";
import { retryingFetch } from "../sessions/transientRetry.ts";
import { KeysError } from "../keys/errors.ts";
import { exportKeyFile } from "../keys/keyFileExport.ts";
import { UNVERIFIED_BACKUP_RISK, prepareKeyHandover } from "../keys/prepare.ts";
import type { ServerApproval } from "../keys/recoverySetup.ts";
import { type CliOptions, USAGE, UsageError, parseArgs } from "./args.ts";
import { SIGN_IN_WAIT_MS, showDeviceCode, showSignInUrl, startLoopbackBrowser } from "./browserSignIn.ts";
import { exportHiddenHistoryFiles } from "./historyExportFiles.ts";
import { makePrivateDirectory, writePrivateFile } from "./privateFile.ts";
import { progressOutput } from "./progress.ts";
import { MigrationRunningError, type RunLock, RunLockUnsafeError, takeRunLock } from "./runLock.ts";
import { terminalSafe } from "./terminalText.ts";

/** Bad input: nothing was changed. */
class InputError extends Error {}

const DEVICE_NAME = "Account migration (CLI)";
/** Signing out on Ctrl-C gets this long before the tool exits anyway. */
const SIGN_OUT_ON_STOP_MS = 15_000;

function env(name: string): string | undefined {
    const v = process.env[name];
    return v && v.length ? v : undefined;
}

/** The server's recommended method among those the CLI can run (OAuth 2.0 with a code first: works over SSH too). */
function recommended(methods: SignInMethod[]): SignInMethodName | undefined {
    const first = methods.find((m) => m.kind !== "token");
    if (!first) return undefined;
    return first.kind === "oauth" ? (first.deviceGrant ? "device" : "oauth") : first.kind;
}

/**
 * Signs one side in. Without --old-sign-in / --new-sign-in: the access token or password given in the environment,
 * else (when a person is at the terminal) the server's recommended method.
 */
async function signInSide(
    side: "old" | "new",
    userId: string | undefined,
    baseUrl: string,
    choice: SignInMethodName | undefined,
    idp: string | undefined,
    err: NodeJS.WriteStream,
): Promise<SignedInSession> {
    const upper = side.toUpperCase();
    const token = env(`MIGRATE_${upper}_ACCESS_TOKEN`);
    const password = env(`MIGRATE_${upper}_PASSWORD`);
    let method = choice ?? (token ? "token" : password && userId ? "password" : undefined);
    if (method === "token") {
        if (!token) throw new InputError(`--${side}-sign-in token needs MIGRATE_${upper}_ACCESS_TOKEN.`);
        return sessionFromAccessToken(baseUrl, token, userId);
    }
    if (!userId || (!method && !process.stdin.isTTY)) {
        throw new InputError(
            side === "old"
                ? "The old account needs MIGRATE_OLD_ACCESS_TOKEN, or --old-user with MIGRATE_OLD_PASSWORD or --old-sign-in sso|oauth|device."
                : "The new account needs MIGRATE_NEW_PASSWORD or MIGRATE_NEW_ACCESS_TOKEN, or --new-sign-in sso|oauth|device.",
        );
    }
    const discovery = await discoverSignIn(userId, baseUrl);
    method ??= recommended(discovery.offer.methods);
    if (!method)
        throw new SignInError(
            "unsupported-sign-in",
            `${baseUrl} offers no sign-in this tool can do; use an access token (MIGRATE_${upper}_ACCESS_TOKEN).`,
        );
    const client = { clientName: DEVICE_NAME, applicationType: "native" as const };
    switch (method) {
        case "password":
            if (!password)
                throw new InputError(
                    `Signing the ${side} account in with its password needs MIGRATE_${upper}_PASSWORD.`,
                );
            return signIn(discovery, { method: "password", password }, { deviceName: DEVICE_NAME });
        case "device": {
            // Registration needs a redirect even for a device-only client; this one is never visited.
            const redirectUri = "http://127.0.0.1/callback";
            return signIn(
                discovery,
                {
                    method: "device",
                    client: { ...client, clientUri: "http://127.0.0.1/", redirectUri },
                    onCode: (p) => showDeviceCode(err, p),
                    signal: AbortSignal.timeout(SIGN_IN_WAIT_MS),
                },
                { deviceName: DEVICE_NAME },
            );
        }
        case "sso":
        case "oauth": {
            const browser = await startLoopbackBrowser(err);
            try {
                const clientUri = new URL("/", browser.redirectUri).href;
                return await signIn(
                    discovery,
                    method === "sso"
                        ? { method, idpId: idp, browser }
                        : { method, browser, client: { ...client, clientUri } },
                    { deviceName: DEVICE_NAME },
                );
            } finally {
                await browser.close();
            }
        }
    }
    throw new InputError(`Unknown sign-in method ${String(method)}`);
}

/** Approval of new cross-signing keys, when the new server asks: the password from the environment, or a page. */
function cliApproval(err: NodeJS.WriteStream): ServerApproval {
    return {
        askPassword: async () => env("MIGRATE_NEW_PASSWORD") ?? null,
        openPage: (url) => {
            err.write("The new account's server asks you to approve setting up recovery. Waiting for your approval…\n");
            showSignInUrl(err, url);
        },
        signal: AbortSignal.timeout(SIGN_IN_WAIT_MS),
    };
}

/** Writes one line of text that may hold server-controlled parts, with every control character neutralised. */
function writeLine(out: Pick<NodeJS.WriteStream, "write">, text: string): void {
    out.write(`${terminalSafe(text)}\n`);
}

export function printPlan(plan: MigrationPlan, out: Pick<NodeJS.WriteStream, "write">): void {
    const count = (status: string) => plan.rooms.filter((r) => r.status === status).length;
    writeLine(out, `Plan: ${plan.oldUserId} → ${plan.newUserId}`);
    writeLine(
        out,
        `  ${plan.rooms.length} rooms: ${count("ready")} to migrate, ${count("already")} already done, ` +
            `${count("blocked")} blocked, ${count("replaced")} replaced by newer rooms`,
    );
    writeLine(out, `  invites needed: ${invitesNeeded(plan)}`);
    for (const room of plan.rooms.filter((r) => r.blockers.length)) {
        for (const b of room.blockers) writeLine(out, `  ! ${room.name}: ${b.reason}`);
    }
    if (plan.pendingInvites.length) {
        writeLine(out, `  ${plan.pendingInvites.length} invite(s) the old account never accepted (not migrated):`);
        for (const p of plan.pendingInvites)
            writeLine(out, `    - ${p.name}${p.inviter ? ` (from ${p.inviter})` : ""}`);
    }
}

export function printSummary(report: MigrationReport, out: Pick<NodeJS.WriteStream, "write">): void {
    const by = (o: string) => report.rooms.filter((r) => r.outcome === o);
    out.write("\n");
    writeLine(
        out,
        `${report.dryRun ? "Dry run — nothing was changed. " : ""}Rooms: ${by("migrated").length} migrated, ${by("already").length} already done, ` +
            `${by("needs-action").length} need action, ${by("skipped").length} skipped, ${by("failed").length} failed. Invites sent: ${report.invitesSent}.`,
    );
    for (const r of [...by("needs-action"), ...by("failed")]) {
        writeLine(out, `  ${r.outcome === "failed" ? "✗" : "!"} ${r.name}: ${r.reason}`);
        if (r.adminMessage) writeLine(out, `      Ask an admin: “${r.adminMessage}”`);
    }
    // Rooms that moved but where the old account stayed, or something else is worth knowing.
    for (const r of [...by("migrated"), ...by("already")].filter((x) => x.reason && x.outcome !== "already"))
        writeLine(out, `  · ${r.name}: ${r.reason}`);
    for (const e of report.errors) writeLine(out, `  ✗ ${e}`);
    // The audit: what the new account can see and decrypt of what the old account sees, room by room.
    const audited = report.rooms.filter((r) => r.history);
    if (audited.length) {
        const sum = (f: (h: NonNullable<(typeof audited)[number]["history"]>) => number) =>
            audited.reduce((n, r) => n + f(r.history!), 0);
        const sampled = audited.filter((r) => r.history!.method === "sampled").length;
        writeLine(
            out,
            `History: the old account sees ${sum((h) => h.oldSees)} messages in ${audited.length} rooms; the new account sees ` +
                `${sum((h) => h.newSees)} and can decrypt ${sum((h) => h.newCanDecrypt)}; ${sum((h) => h.notVisible)} not visible, ` +
                `${sum((h) => h.noKey)} without key${sampled ? ` (${sampled} rooms sampled, not counted exactly)` : ""}.`,
        );
        for (const r of audited.filter((x) => historyLosses(x.history!) > 0))
            writeLine(
                out,
                `  ${r.left ? "·" : "!"} ${r.name} (${r.roomId}): ${r.history!.notVisible} not visible, ${r.history!.noKey} without key` +
                    `${r.left ? " — left anyway, as you accepted" : ""}`,
            );
    }
    if (report.historyExports?.length) {
        const kept = report.historyExports.reduce((n, e) => n + e.messages, 0);
        writeLine(out, `Kept before the migration: ${kept} messages the new account can't see, in:`);
        for (const e of report.historyExports) writeLine(out, `  ${e.name}: ${e.files.join(", ")}`);
    }
    const keys = report.keys;
    if (keys) {
        writeLine(
            out,
            `Room keys: ${keys.sessionsFound} found, ${keys.sessionsUploaded} handed over, ${keys.sessionsMissing} missing.${keys.error ? ` ${keys.error}` : ""}`,
        );
    }
}

async function confirm(question: string): Promise<boolean> {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    // Ctrl-C at the question stops the tool like anywhere else (readline would only pause its input).
    rl.on("SIGINT", () => process.kill(process.pid, "SIGINT"));
    try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
        rl.close();
    }
}

export async function main(argv: string[]): Promise<number> {
    const out = process.stdout;
    const err = process.stderr;
    const sessions: SignedInSession[] = [];
    let lock: RunLock | undefined;
    // Until the run starts, reads that a flaky network or a busy server fail are tried again (the scheduler paces the
    // run itself). The CLI is its own process: every request made here goes through this fetch.
    let preparing = true;
    // Ctrl-C or SIGTERM: no new request starts, the sessions this tool signed in are signed out (both sides), the lock
    // is released, and the tool exits 130. A stopped migration continues where it stopped when started again.
    let stopping = false;
    let cleaned: Promise<void> | undefined;
    const cleanUp = () =>
        (cleaned ??= (async () => {
            for (const s of sessions.filter((x) => x.temporary)) await s.signOut().catch(() => undefined);
            lock?.release();
        })());
    const onSignal = () => {
        if (stopping) return;
        stopping = true;
        err.write("\nStopping: signing out this tool's sessions. Run the same command again to continue.\n");
        void Promise.race([cleanUp(), new Promise((r) => setTimeout(r, SIGN_OUT_ON_STOP_MS))]).finally(() =>
            process.exit(130),
        );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const plainFetch = globalThis.fetch;
    // Redirects only to https (or loopback http), never https → http (Node's fetch would): also matrix-js-sdk's requests.
    globalThis.fetch = retryingFetch(checkedRedirects(plainFetch), { active: () => preparing });
    try {
        let opts: CliOptions;
        try {
            opts = parseArgs(argv);
        } catch (e) {
            if (e instanceof UsageError) throw new InputError(`${e.message}\n\n${USAGE}`);
            throw e;
        }
        if (opts.help) {
            out.write(`${USAGE}\n`);
            return 0;
        }
        // The export's directory is made (or found) first, so a wrong path stops before anything changes.
        if (opts.exportHiddenHistory) {
            try {
                makePrivateDirectory(opts.exportHiddenHistory);
            } catch (e) {
                throw new InputError(`--export-hidden-history: ${e instanceof Error ? e.message : String(e)}`);
            }
        }
        const keyFilePassphrase = env("MIGRATE_KEY_FILE_PASSPHRASE");
        if (opts.keyFile && !keyFilePassphrase)
            throw new InputError("--key-file needs its passphrase in MIGRATE_KEY_FILE_PASSPHRASE.");
        if (
            opts.setUpNewBackup &&
            (opts.newSignIn === "token" || (!opts.newSignIn && env("MIGRATE_NEW_ACCESS_TOKEN")))
        ) {
            throw new InputError(
                "--set-up-new-backup needs a session this tool signs in itself (its keys go on that session's device): use --new-sign-in password, sso, oauth or device instead of an access token.",
            );
        }

        const oldBase = await checkHomeserver(opts.oldHomeserver);
        const old = await signInSide("old", opts.oldUser, oldBase, opts.oldSignIn, opts.oldIdp, err);
        sessions.push(old);
        const newUserId = checkTarget(old.userId, opts.newUser);
        const newBase = await resolveNewHomeserver(newUserId, opts.newHomeserver, { allowedServers: [] });
        const neu = await signInSide("new", newUserId, newBase, opts.newSignIn, opts.newIdp, err);
        sessions.push(neu);
        if (opts.dryRun && sessions.some((s) => s.temporary)) {
            err.write(
                "Note: signing in creates a session (signed out again at the end). Use access tokens for a dry run that writes nothing at all.\n",
            );
        }

        // One run of this migration at a time on this machine (a dry run changes nothing, so it needs no lock).
        if (!opts.dryRun) lock = takeRunLock(old.userId, neu.userId);

        // Progress saved by a newer version of this tool must not be overwritten: checked before anything changes.
        const journalCheck = await checkJournalBeforeRun(old, neu.userId, old.deviceId, { runner: lock?.runner });
        // The same migration under way on another device (an Element page, another machine's CLI): not run twice.
        const elsewhere = opts.dryRun ? undefined : journalCheck.elsewhere;
        if (elsewhere)
            throw new InputError(
                `The migration from ${old.userId} to ${neu.userId} is running on another device (${elsewhere.deviceId}, ` +
                    `last seen ${Math.max(0, Math.round(Date.now() / 1000 - elsewhere.heartbeatAt))} s ago). ` +
                    "Let it finish there, or stop it: once it has been silent for 90 s it can be continued here.",
            );

        // Keys: checked before anything changes, so a wrong recovery key stops here.
        // Asked only when the new backup exists and cannot be verified (and someone is there to answer).
        const askConsent = () => confirm(`${UNVERIFIED_BACKUP_RISK}\nHand the keys to that backup anyway? [y/N] `);
        const trustUnverified = opts.trustNewBackup || (!opts.yes && process.stdin.isTTY === true && askConsent);
        const keyInput = {
            old,
            new: { ...neu, baseUrl: newBase },
            oldRecoveryKey: env("MIGRATE_OLD_RECOVERY_KEY"),
            newRecoveryKey: env("MIGRATE_NEW_RECOVERY_KEY"),
            trustUnverifiedNewBackup: trustUnverified,
            dryRun: opts.dryRun,
        };
        const setUp = { session: neu, approval: cliApproval(err) };
        // --set-up-new-backup sets nothing up before the person agreed to the run: first only the checks (a dry run
        // says what it would do), the set-up itself after the question.
        let keys = await prepareKeyHandover({
            ...keyInput,
            setUpNewBackup: opts.dryRun && opts.setUpNewBackup ? setUp : undefined,
        });
        for (const note of keys.notes) writeLine(err, `Note: ${note}`);
        const setUpLater =
            opts.setUpNewBackup &&
            !opts.dryRun &&
            "unavailable" in keys.target &&
            keys.target.reason.key === "reason|keys-no-new-backup";
        if (setUpLater)
            writeLine(err, `Encrypted history: recovery will be set up for ${neu.userId} when the migration starts.`);
        else if ("unavailable" in keys.target) writeLine(err, `Encrypted history: ${keys.target.unavailable}`);

        err.write(`Reading ${old.userId}'s rooms and settings…\n`);
        const snapshot = await snapshotFromSync(old.http, old.userId);
        err.write("Reading which history each room hides from newcomers…\n");
        const plan = await previewPlanHistory(
            buildPlan(snapshot, neu.userId, {
                leaveOldRooms: opts.leaveOldRooms,
                movedNotice: opts.movedNotice,
                acceptMissingKeys: opts.acceptMissingKeys ?? [],
            }),
            (path, query) => old.http.request("GET", path, { query }),
        );
        printPlan(plan, err);

        if (!opts.dryRun && !opts.yes) {
            if (!process.stdin.isTTY)
                throw new InputError("Not run from a terminal: pass --yes to migrate without being asked.");
            if (!(await confirm("Start the migration? [y/N] "))) {
                err.write("Nothing was changed.\n");
                return 0;
            }
        }

        if (setUpLater) {
            try {
                keys = await prepareKeyHandover({
                    ...keyInput,
                    trustUnverifiedNewBackup: false,
                    setUpNewBackup: setUp,
                });
            } catch (e) {
                // Recovery may be half set up by now: "nothing was changed" would not be true.
                if (!(e instanceof KeysError)) throw e;
                writeLine(err, e.message);
                err.write("No room was changed and no key was handed over.\n");
                return 2;
            }
            if (keys.createdRecoveryKey) {
                err.write(
                    `\nRecovery was set up for ${neu.userId}. Its recovery key, shown only this once — store it safely:\n\n    ${keys.createdRecoveryKey}\n\n`,
                );
            }
            if ("unavailable" in keys.target) writeLine(err, `Encrypted history: ${keys.target.unavailable}`);
        }

        if (opts.keyFile) {
            const encrypted = plan.rooms.filter((r) => r.selected && r.encrypted).map((r) => r.roomId);
            const file = await exportKeyFile({
                old,
                roomIds: encrypted,
                oldBackup: keys.oldBackup,
                passphrase: keyFilePassphrase!,
            });
            writePrivateFile(opts.keyFile, file.text);
            err.write(
                `Wrote ${file.sessions} room key(s) to ${opts.keyFile} (import it in Element: Settings → Encryption → Import keys).\n`,
            );
        }

        // What stays behind is written before anything changes (the old account leaves nothing before it).
        const historyExports = opts.exportHiddenHistory
            ? await exportHiddenHistoryFiles({
                  dir: opts.exportHiddenHistory,
                  plan,
                  old,
                  oldBackup: keys.oldBackup,
                  err,
              })
            : undefined;

        const progress = progressOutput(err);
        preparing = false;
        // Once stopping, a request the scheduler would start next never starts (the process exits after signing out).
        const scheduler = new (class extends Scheduler {
            public override run<T>(name: Parameters<Scheduler["run"]>[0], request: () => Promise<T>): Promise<T> {
                const never = () => new Promise<T>(() => undefined);
                return stopping ? never() : super.run(name, () => (stopping ? never() : request()));
            }
        })();
        const ran = await runMigration(
            plan,
            snapshot,
            { old, new: neu },
            {
                dryRun: opts.dryRun,
                onProgress: progress.onProgress,
                onWait: progress.onWait,
                keys: keys.handover,
                scheduler,
                heartbeatRunner: lock?.runner,
            },
        );
        const report: MigrationReport = historyExports ? { ...ran, historyExports } : ran;
        progress.end();
        printSummary(report, err);
        if (opts.reportFile) {
            writePrivateFile(opts.reportFile, JSON.stringify(report, null, 2) + "\n");
            err.write(`Report written to ${opts.reportFile}\n`);
        }
        return reportExitCode(report);
    } catch (e) {
        if (
            e instanceof InputError ||
            isSignInError(e) ||
            e instanceof KeysError ||
            e instanceof NewerJournalError ||
            e instanceof MigrationRunningError ||
            e instanceof RunLockUnsafeError
        ) {
            writeLine(err, (e as Error).message);
            err.write("Nothing was changed.\n");
            return 2;
        }
        const detail = isMatrixRequestError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
        for (const line of `Migration stopped: ${detail}`.split("\n")) writeLine(err, line);
        return 1;
    } finally {
        await cleanUp();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        globalThis.fetch = plainFetch;
    }
}
