/**
 * `matrix-account-migrate`: the engine without Element, for people on other clients and for admins. Signs in both
 * accounts from environment secrets, reads the old account with one /sync, shows the plan, asks, runs, reports.
 */
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";

import { type AccountSession } from "../engine/context.ts";
import { type MigrationReport, reportExitCode, runMigration } from "../engine/migration.ts";
import { type MigrationPlan, buildPlan, invitesNeeded } from "../engine/plan.ts";
import { isMatrixRequestError } from "../sessions/matrixHttp.ts";
import { checkHomeserver, checkTarget, discoverHomeserver, isSignInError, sessionFromAccessToken, signInWithPassword } from "../sessions/signIn.ts";
import { snapshotFromSync } from "../sessions/snapshots.ts";
import { retryingFetch } from "../sessions/transientRetry.ts";
import { KeysError } from "../keys/errors.ts";
import { exportKeyFile } from "../keys/keyFileExport.ts";
import { UNVERIFIED_BACKUP_RISK, prepareKeyHandover } from "../keys/prepare.ts";
import { type CliOptions, USAGE, UsageError, parseArgs } from "./args.ts";
import { progressOutput } from "./progress.ts";
import { terminalSafe } from "./terminalText.ts";

/** Bad input: nothing was changed. */
class InputError extends Error {}

const DEVICE_NAME = "Account migration (CLI)";

interface SignedIn extends AccountSession {
    /** Set when the CLI created this session with a password: it signs it out again at the end. */
    temporary: boolean;
}

function env(name: string): string | undefined {
    const v = process.env[name];
    return v && v.length ? v : undefined;
}

async function signInOld(opts: CliOptions, baseUrl: string): Promise<SignedIn> {
    const token = env("MIGRATE_OLD_ACCESS_TOKEN");
    if (token) return { ...(await sessionFromAccessToken(baseUrl, token, opts.oldUser)), temporary: false };
    const password = env("MIGRATE_OLD_PASSWORD");
    if (password && opts.oldUser) return { ...(await signInWithPassword(baseUrl, opts.oldUser, password, { deviceName: DEVICE_NAME })), temporary: true };
    throw new InputError("The old account needs MIGRATE_OLD_ACCESS_TOKEN, or MIGRATE_OLD_PASSWORD together with --old-user.");
}

async function signInNew(newUserId: string, baseUrl: string): Promise<SignedIn> {
    const token = env("MIGRATE_NEW_ACCESS_TOKEN");
    if (token) return { ...(await sessionFromAccessToken(baseUrl, token, newUserId)), temporary: false };
    const password = env("MIGRATE_NEW_PASSWORD");
    if (password) return { ...(await signInWithPassword(baseUrl, newUserId, password, { deviceName: DEVICE_NAME })), temporary: true };
    throw new InputError("The new account needs MIGRATE_NEW_PASSWORD or MIGRATE_NEW_ACCESS_TOKEN.");
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
        for (const p of plan.pendingInvites) writeLine(out, `    - ${p.name}${p.inviter ? ` (from ${p.inviter})` : ""}`);
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
    for (const r of [...by("migrated"), ...by("already")].filter((x) => x.reason && x.outcome !== "already")) writeLine(out, `  · ${r.name}: ${r.reason}`);
    for (const e of report.errors) writeLine(out, `  ✗ ${e}`);
    const keys = report.keys;
    if (keys) {
        writeLine(out, `Room keys: ${keys.sessionsFound} found, ${keys.sessionsUploaded} handed over, ${keys.sessionsMissing} missing.${keys.error ? ` ${keys.error}` : ""}`);
    }
}

async function confirm(question: string): Promise<boolean> {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
        rl.close();
    }
}

export async function main(argv: string[]): Promise<number> {
    const out = process.stdout;
    const err = process.stderr;
    const sessions: SignedIn[] = [];
    // Until the run starts, reads that a flaky network or a busy server fail are tried again (the scheduler paces the
    // run itself). The CLI is its own process: every request made here goes through this fetch.
    let preparing = true;
    const plainFetch = globalThis.fetch;
    globalThis.fetch = retryingFetch(plainFetch, { active: () => preparing });
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
        const keyFilePassphrase = env("MIGRATE_KEY_FILE_PASSPHRASE");
        if (opts.keyFile && !keyFilePassphrase) throw new InputError("--key-file needs its passphrase in MIGRATE_KEY_FILE_PASSPHRASE.");
        if (opts.setUpNewBackup && !env("MIGRATE_NEW_PASSWORD")) {
            throw new InputError("--set-up-new-backup needs MIGRATE_NEW_PASSWORD: the new server asks for it to approve the new keys.");
        }

        const oldBase = await checkHomeserver(opts.oldHomeserver);
        const old = await signInOld(opts, oldBase);
        sessions.push(old);
        const newUserId = checkTarget(old.userId, opts.newUser);
        const newBase = opts.newHomeserver ? await checkHomeserver(opts.newHomeserver) : await discoverHomeserver(newUserId.slice(newUserId.indexOf(":") + 1));
        const neu = await signInNew(newUserId, newBase);
        sessions.push(neu);
        if (opts.dryRun && sessions.some((s) => s.temporary)) {
            err.write("Note: signing in with a password creates a session (signed out again at the end). Use access tokens for a dry run that writes nothing at all.\n");
        }

        // Keys: checked before anything changes, so a wrong recovery key stops here.
        // Asked only when the new backup exists and cannot be verified (and someone is there to answer).
        const askConsent = () => confirm(`${UNVERIFIED_BACKUP_RISK}\nHand the keys to that backup anyway? [y/N] `);
        const trustUnverified = opts.trustNewBackup || (!opts.yes && process.stdin.isTTY === true && askConsent);
        const keys = await prepareKeyHandover({
            old,
            new: { ...neu, baseUrl: newBase },
            oldRecoveryKey: env("MIGRATE_OLD_RECOVERY_KEY"),
            newRecoveryKey: env("MIGRATE_NEW_RECOVERY_KEY"),
            trustUnverifiedNewBackup: trustUnverified,
            setUpNewBackup: opts.setUpNewBackup ? { password: env("MIGRATE_NEW_PASSWORD")! } : undefined,
            dryRun: opts.dryRun,
        });
        for (const note of keys.notes) writeLine(err, `Note: ${note}`);
        if (keys.createdRecoveryKey) {
            err.write(`\nRecovery was set up for ${neu.userId}. Its recovery key, shown only this once — store it safely:\n\n    ${keys.createdRecoveryKey}\n\n`);
        }
        if ("unavailable" in keys.target) writeLine(err, `Encrypted history: ${keys.target.unavailable}`);

        err.write(`Reading ${old.userId}'s rooms and settings…\n`);
        const snapshot = await snapshotFromSync(old.http, old.userId);
        const plan = buildPlan(snapshot, neu.userId, {
            leaveOldRooms: opts.leaveOldRooms,
            movedNotice: opts.movedNotice,
            acceptMissingKeys: opts.acceptMissingKeys ?? [],
        });
        printPlan(plan, err);

        if (!opts.dryRun && !opts.yes) {
            if (!process.stdin.isTTY) throw new InputError("Not run from a terminal: pass --yes to migrate without being asked.");
            if (!(await confirm("Start the migration? [y/N] "))) {
                err.write("Nothing was changed.\n");
                return 0;
            }
        }

        if (opts.keyFile) {
            const encrypted = plan.rooms.filter((r) => r.selected && r.encrypted).map((r) => r.roomId);
            const file = await exportKeyFile({ old, roomIds: encrypted, oldBackup: keys.oldBackup, passphrase: keyFilePassphrase! });
            writeFileSync(opts.keyFile, file.text, { mode: 0o600 });
            err.write(`Wrote ${file.sessions} room key(s) to ${opts.keyFile} (import it in Element: Settings → Encryption → Import keys).\n`);
        }

        const progress = progressOutput(err);
        preparing = false;
        const report = await runMigration(plan, snapshot, { old, new: neu }, {
            dryRun: opts.dryRun,
            onProgress: progress.onProgress,
            onWait: progress.onWait,
            keys: keys.handover,
        });
        progress.end();
        printSummary(report, err);
        if (opts.reportFile) {
            writeFileSync(opts.reportFile, JSON.stringify(report, null, 2) + "\n");
            err.write(`Report written to ${opts.reportFile}\n`);
        }
        return reportExitCode(report);
    } catch (e) {
        if (e instanceof InputError || isSignInError(e) || e instanceof KeysError) {
            writeLine(err, (e as Error).message);
            err.write("Nothing was changed.\n");
            return 2;
        }
        const detail = isMatrixRequestError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
        for (const line of `Migration stopped: ${detail}`.split("\n")) writeLine(err, line);
        return 1;
    } finally {
        for (const s of sessions.filter((x) => x.temporary)) await s.http.request("POST", "/logout", { body: {} }).catch(() => undefined);
        globalThis.fetch = plainFetch;
    }
}
