/**
 * What the migration screens need from below, as one small interface: the Element adapter implements it over the
 * engine (loaded only when a migration starts); component tests can give a stand-in. Types only — importing this
 * file loads nothing.
 */
import type { ProgressEvent } from "../engine/context.ts";
import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationOptions, MigrationPlan } from "../engine/plan.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { KeySituation } from "../keys/prepare.ts";

export interface NewAccountSignInInput {
    newUserId: string;
    /** Only when the server cannot be found from the user id (.well-known). */
    homeserverUrl?: string;
    password: string;
}

/** The new account's session, held by the runtime; the screens only see who it is. */
export interface NewAccountHandle {
    userId: string;
    homeserverUrl: string;
}

/** What the page shows about keys before a run (see `keySituation` in src/keys/prepare.ts). */
export type KeyStatus = KeySituation;

export interface KeyChoices {
    oldRecoveryKey?: string;
    newRecoveryKey?: string;
    /** The user accepted writing to a new backup that could not be verified. */
    trustUnverifiedNewBackup?: boolean;
}

export interface RunCallbacks {
    onProgress(event: ProgressEvent): void;
    onWait(notice: WaitNotice): void;
    /** Resolves at once while running, or when the user resumes a paused run; asked before every request. */
    whilePaused(): Promise<void>;
}

/** Errors the screens show: a code to translate, and the runtime's own sentence as detail. */
export interface RuntimeError {
    code: string;
    message: string;
}

export interface MigrationRuntime {
    signIn(input: NewAccountSignInInput): Promise<NewAccountHandle>;
    plan(account: NewAccountHandle, options: Partial<MigrationOptions>): Promise<MigrationPlan>;
    keyStatus(account: NewAccountHandle): Promise<KeyStatus>;
    /** Sets up recovery and a key backup for a new account that has none; returns its recovery key (show once). */
    setUpRecovery(account: NewAccountHandle, recoveryKey?: string): Promise<string>;
    /** The old account's keys for the plan's encrypted rooms as Element's key file (needs nothing of the new account). */
    exportKeyFile(plan: MigrationPlan, passphrase: string, choices: KeyChoices): Promise<{ text: string; sessions: number }>;
    run(account: NewAccountHandle, plan: MigrationPlan, choices: KeyChoices & { dryRun: boolean }, callbacks: RunCallbacks): Promise<MigrationReport>;
    /** Signs the migration's own session of the new account out. */
    signOut(account: NewAccountHandle): Promise<void>;
    /** The same, for a page that is going away: one request that outlives the page (`fetch` with `keepalive`). */
    signOutOnPageHide(account: NewAccountHandle): void;
}

/** Turns anything thrown below into a RuntimeError (stable code when there is one). */
export function toRuntimeError(e: unknown): RuntimeError {
    const code = typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "unexpected";
    return { code, message: e instanceof Error ? e.message : String(e) };
}
