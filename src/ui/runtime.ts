/**
 * What the migration screens need from below, as one small interface: the Element adapter implements it over the
 * engine (loaded only when a migration starts); component tests can give a stand-in. Types only — importing this
 * file loads nothing.
 */
import type { ProgressEvent } from "../engine/context.ts";
import type { ExportProgress, HistoryExportRecord, HtmlWords } from "../engine/historyExport.ts";
import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationOptions, MigrationPlan } from "../engine/plan.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { KeySituation } from "../keys/prepare.ts";
import type { SignInOffer } from "../sessions/discovery.ts";
import type { DeviceGrantPrompt } from "../sessions/oauth.ts";

export type { DeviceGrantPrompt } from "../sessions/oauth.ts";
export type { IdentityProvider, SignInMethod, SignInOffer } from "../sessions/discovery.ts";

/** The new account to find, before its server is asked how it signs in. */
export interface NewAccountTarget {
    newUserId: string;
    /** Only when the server cannot be found from the user id (.well-known). */
    homeserverUrl?: string;
}

/**
 * A popup the page opened synchronously in the click handler (browsers block popups opened later), for the server's
 * sign-in or approval pages. Element's own tab never navigates away; the popup has no handle on it.
 */
export interface SignInWindow {
    navigate(url: string): void;
    isClosed(): boolean;
    close(): void;
}

/** The person's choice on the sign-in step, with what that method needs. The password is used for one request. */
export type NewAccountSignInInput =
    | { method: "password"; password: string }
    | { method: "token"; accessToken: string }
    | { method: "sso"; idpId?: string; window: SignInWindow }
    | { method: "oauth"; window: SignInWindow }
    | { method: "device"; onCode(prompt: DeviceGrantPrompt): void; signal: AbortSignal };

/** When the new server asks for approval of new cross-signing keys during "set up recovery". */
export interface RecoveryApprovalUi {
    /** Ask the person for the new account's password again (resolves null when they cancel). */
    askPassword(): Promise<string | null>;
    /** Show a button that opens `url` in a popup; the set-up retries until the server sees the approval. */
    showApprovalPage(url: string): void;
    signal: AbortSignal;
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
    /** Finds the new account's server and the sign-in methods it offers (recommended first). */
    discover(target: NewAccountTarget): Promise<SignInOffer>;
    /** Signs the new account in with one of the offered methods; refuses a session of another account. */
    signIn(offer: SignInOffer, input: NewAccountSignInInput): Promise<NewAccountHandle>;
    plan(account: NewAccountHandle, options: Partial<MigrationOptions>): Promise<MigrationPlan>;
    keyStatus(account: NewAccountHandle): Promise<KeyStatus>;
    /** Sets up recovery and a key backup for a new account that has none; returns its recovery key (show once). */
    setUpRecovery(
        account: NewAccountHandle,
        recoveryKey: string | undefined,
        approval: RecoveryApprovalUi,
    ): Promise<string>;
    /** The old account's keys for the plan's encrypted rooms as Element's key file (needs nothing of the new account). */
    exportKeyFile(
        plan: MigrationPlan,
        passphrase: string,
        choices: KeyChoices,
    ): Promise<{ text: string; sessions: number }>;
    /**
     * The messages the new account won't see (the plan's hidden history), of the given rooms or of every chosen one,
     * decrypted by the old session: one JSON and one HTML file (Blobs, built as the messages arrive).
     */
    exportHiddenHistory(
        plan: MigrationPlan,
        roomIds: string[] | undefined,
        choices: KeyChoices,
        words: HtmlWords,
        onProgress: (progress: ExportProgress) => void,
    ): Promise<HiddenHistoryExport>;
    run(
        account: NewAccountHandle,
        plan: MigrationPlan,
        choices: KeyChoices & { dryRun: boolean },
        callbacks: RunCallbacks,
    ): Promise<MigrationReport>;
    /** Signs the migration's own session of the new account out (OAuth 2.0: revokes its tokens). */
    signOut(account: NewAccountHandle): Promise<void>;
    /** The same, for a page that is going away: one request that outlives the page (`fetch` with `keepalive`). */
    signOutOnPageHide(account: NewAccountHandle): void;
}

/** What the page downloads: the files, and per room what they hold. */
export interface HiddenHistoryExport {
    files: Array<{ name: string; blob: Blob }>;
    rooms: HistoryExportRecord[];
}

/** Turns anything thrown below into a RuntimeError (stable code when there is one). */
export function toRuntimeError(e: unknown): RuntimeError {
    const code = typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "unexpected";
    return { code, message: e instanceof Error ? e.message : String(e) };
}
