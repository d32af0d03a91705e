/**
 * The migration's state, outside any React component: the page subscribes to it and may come and go (the user
 * leaves to chat, comes back) while a run goes on. One controller per Element session; the page chunk keeps it.
 * Signing in is part of that state too — the methods the new account's server offers, a sign-in under way elsewhere
 * (a popup, a code to approve), a server's request for approval while recovery is set up. Secrets pass through:
 * a password or access token goes to its one request and is never stored here; recovery keys are cleared once used
 * and on Finish; the new account's temporary session is signed out on Finish and when the tab goes away. A real run
 * holds a lock of the browser's (tabLock.ts): another tab of the same Element cannot start the same migration meanwhile.
 */
import type { ProgressEvent } from "../engine/context.ts";
import type { ExportProgress, HistoryExportRecord, HtmlWords } from "../engine/historyExport.ts";
import type { Translate } from "../i18n/index.ts";
import { HEARTBEAT_FRESH_MS, type RunChoices, type UnfinishedRun, unfinishedRuns } from "../engine/journal.ts";
import type { MigrationReport } from "../engine/migration.ts";
import { type MigrationPlan, isMovable } from "../engine/plan.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { PageHost } from "./host.ts";
import {
    type DeviceGrantPrompt,
    type KeyChoices,
    type KeyStatus,
    type MigrationRuntime,
    type NewAccountHandle,
    type NewAccountSignInInput,
    type NewAccountTarget,
    type RecoveryApprovalUi,
    type RuntimeError,
    type SignInOffer,
    toRuntimeError,
} from "./runtime.ts";
import { whileHoldingMigrationLock } from "./tabLock.ts";

// The journal's unfinished runs are read by the journal's owner (engine/journal.ts); offered from here.
export { type UnfinishedRun, unfinishedRuns };

/** The person's choice among the offered sign-in methods; a password or token is on its way to its one request. */
export type SignInChoice =
    | { method: "password"; password: string }
    | { method: "token"; accessToken: string }
    | { method: "sso"; idpId?: string }
    | { method: "oauth" }
    | { method: "device" };

/** A sign-in happening elsewhere: in a popup (single sign-on, OAuth 2.0), or a code approved on any device. */
export type SignInWait = { kind: "popup" } | { kind: "device"; prompt?: DeviceGrantPrompt };

/** The new account's server wants approval of new cross-signing keys: the password again, or one of its pages. */
export type ApprovalAsk = { kind: "password" } | { kind: "page"; url: string };

export type Stage =
    | {
          name: "sign-in";
          continuing?: UnfinishedRun;
          /** The account last looked up (kept for "Use another account", to correct it). */
          target?: NewAccountTarget;
          /** How that account's server lets it sign in, once looked up. */
          offer?: SignInOffer;
          wait?: SignInWait;
      }
    | {
          name: "review";
          account: NewAccountHandle;
          plan: MigrationPlan;
          keyStatus: KeyStatus;
          continuing?: UnfinishedRun;
      }
    | {
          name: "running";
          account: NewAccountHandle;
          plan: MigrationPlan;
          keyStatus: KeyStatus;
          dryRun: boolean;
          paused: boolean;
          progress?: ProgressEvent;
          lastWait?: WaitNotice;
      }
    | { name: "report"; account: NewAccountHandle; plan: MigrationPlan; keyStatus: KeyStatus; report: MigrationReport };

export interface ControllerState {
    stage: Stage;
    busy: boolean;
    error?: RuntimeError;
    keyChoices: KeyChoices;
    /** The new account's recovery key made here: shown until the user confirms they saved it. */
    newRecoveryKeyToSave?: string;
    /** Migrations the journal says were left unfinished (offered on the sign-in screen). */
    unfinished: UnfinishedRun[];
    /** The new account's server asks for approval while recovery is set up (until answered or cancelled). */
    approval?: ApprovalAsk;
    /** The export of what stays behind: its progress while it runs, then what it saved (named in the report). */
    historyExport?: HistoryExportState;
}

export interface HistoryExportState {
    progress?: ExportProgress;
    /** Every room exported on this page so far, with the files it went to. */
    saved: HistoryExportRecord[];
    /** The files of the last export. */
    lastFiles?: string[];
}

/** The words of the exported HTML page, in the person's language. */
export function exportWords(t: Translate): HtmlWords {
    return {
        lang: t("export|lang"),
        title: t("export|title"),
        intro: t("export|intro"),
        undecryptable: t("export|undecryptable"),
        noText: (type) => t("export|no_text", { type }),
        summary: (s) =>
            (s.undecryptable
                ? t("export|summary_undecryptable", { count: s.messages, failed: s.undecryptable })
                : t("export|summary", { count: s.messages })) +
            (s.truncated ? ` ${t("export|summary_truncated", { count: s.messages })}` : ""),
    };
}

/** The plan as the user chose it before: the same rooms, options and settings. */
function applyChoices(plan: MigrationPlan, choices: RunChoices): MigrationPlan {
    const rooms = new Set(choices.rooms);
    const settings = new Set(choices.settings);
    return {
        ...plan,
        rooms: plan.rooms.map((r) => ({
            ...r,
            selected: rooms.has(r.roomId) && isMovable(r),
        })),
        options: { ...plan.options, ...choices.options },
        optionalAccountData: plan.optionalAccountData.map((o) => ({ ...o, selected: settings.has(o.type) })),
    };
}

/** What the controller holds outside itself (listeners, watchers, timers), released together by `dispose`. */
class Disposables {
    private readonly releases: Array<() => void> = [];

    public add(release: () => void): void {
        this.releases.push(release);
    }

    /** Releases everything, the latest first; each release runs once. */
    public dispose(): void {
        for (const release of this.releases.splice(0).reverse()) release();
    }
}

/** A paused run: the gate its next request waits on (the scheduler's `whilePaused`) until resumed. */
class PauseGate {
    private held: { gate: Promise<void>; open(): void } | null = null;

    public get paused(): boolean {
        return this.held !== null;
    }

    /** False when already paused. */
    public pause(): boolean {
        if (this.held) return false;
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        this.held = { gate, open };
        return true;
    }

    public resume(): void {
        this.held?.open();
        this.held = null;
    }

    public readonly whilePaused = (): Promise<void> => this.held?.gate ?? Promise.resolve();
}

/** One sign-in under way elsewhere (a popup, a code to approve): cancelling ends it and marks it cancelled. */
class SignInAttempt {
    public cancelled = false;

    public constructor(private readonly end: () => void = () => undefined) {}

    public cancel(): void {
        this.cancelled = true;
        this.end();
    }
}

/** The server's request for approval while recovery is set up, waiting for the person's answer. */
interface ApprovalRequest {
    ask: ApprovalAsk;
    /** A password for the one request, or null: cancelled. */
    answer(password: string | null): void;
}

export class MigrationController {
    private state: ControllerState;
    private readonly listeners = new Set<() => void>();
    private readonly disposables = new Disposables();
    private runtime: MigrationRuntime | null = null;
    private readonly pauseGate = new PauseGate();
    private signedIn: NewAccountHandle | null = null;
    /** The sign-in under way elsewhere, while it waits. */
    private attempt: SignInAttempt | null = null;
    /** The approval the server asked for, until answered. */
    private approvalRequest: ApprovalRequest | null = null;
    /** Looks again once a run shown as running elsewhere has gone silent (its heartbeat is then stale). */
    private staleCheck: ReturnType<typeof setTimeout> | undefined;

    public constructor(private readonly host: PageHost) {
        this.state = {
            stage: { name: "sign-in" },
            busy: false,
            keyChoices: {},
            unfinished: [],
        };
        this.state.unfinished = this.readUnfinished();
        window.addEventListener("pagehide", this.onPageHide);
        this.disposables.add(() => window.removeEventListener("pagehide", this.onPageHide));
        // Element may sync the journal after the page opened (a fresh start): offer to continue once it arrives.
        this.disposables.add(host.watchJournal(() => this.refreshUnfinished()));
        this.disposables.add(() => clearTimeout(this.staleCheck));
    }

    /**
     * Lets go of Element: the pagehide listener, the journal watcher and the stale-heartbeat timer. For when the
     * controller is replaced (another Element session); a run under way is not stopped by it.
     */
    public dispose(): void {
        this.disposables.dispose();
        this.listeners.clear();
    }

    // --- for React (useSyncExternalStore) ---
    public subscribe = (listener: () => void): (() => void) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    };
    public getState = (): ControllerState => this.state;

    private set(change: Partial<ControllerState>): void {
        this.state = { ...this.state, ...change };
        for (const l of this.listeners) l();
    }
    private setStage(stage: Stage): void {
        this.set({ stage });
    }

    /** Runs one user action: busy while it lasts, its error shown, never an unhandled rejection. */
    private async act<T>(work: (rt: MigrationRuntime) => Promise<T>): Promise<T | undefined> {
        this.set({ busy: true, error: undefined });
        try {
            this.runtime ??= await this.host.loadRuntime();
            return await work(this.runtime);
        } catch (e) {
            this.set({ error: toRuntimeError(e) });
            return undefined;
        } finally {
            this.set({ busy: false });
        }
    }

    /** The journal's unfinished runs; re-read when one running elsewhere would go stale without a new heartbeat. */
    private readUnfinished(): UnfinishedRun[] {
        const runs = unfinishedRuns(this.host.readJournal(), this.host.oldDeviceId?.());
        clearTimeout(this.staleCheck);
        this.staleCheck = undefined;
        const beats = runs.flatMap((r) => (r.elsewhere ? [r.elsewhere.heartbeatAt * 1000] : []));
        if (beats.length) {
            const wait = Math.max(0, Math.min(...beats) + HEARTBEAT_FRESH_MS - Date.now()) + 1000;
            this.staleCheck = setTimeout(() => this.refreshUnfinished(), wait);
        }
        return runs;
    }

    /** Re-reads the journal (the page opened again); only while nothing is under way. */
    public refreshUnfinished(): void {
        if (this.state.stage.name === "sign-in" && !this.state.busy) this.set({ unfinished: this.readUnfinished() });
    }

    public continueRun(run: UnfinishedRun | undefined): void {
        // A run going on elsewhere is not continued here as well (the page says where it runs instead).
        if (run?.elsewhere) return;
        if (this.state.stage.name === "sign-in" && !this.state.stage.wait)
            this.set({ stage: { name: "sign-in", continuing: run }, error: undefined });
    }

    /** Finds the new account's server and what sign-in it offers (recommended first). */
    public async findAccount(target: NewAccountTarget): Promise<void> {
        const stage = this.state.stage;
        if (stage.name !== "sign-in" || this.state.busy) return;
        await this.act(async (rt) => {
            const offer = await rt.discover(target);
            if (this.state.stage.name === "sign-in")
                this.setStage({ name: "sign-in", continuing: stage.continuing, target, offer });
        });
    }

    /** Back to the account field, to look up another account (or the same one at another address). */
    public changeAccount(): void {
        const stage = this.state.stage;
        if (stage.name === "sign-in" && !stage.wait)
            this.set({
                stage: { name: "sign-in", continuing: stage.continuing, target: stage.target },
                error: undefined,
            });
    }

    /**
     * Signs the new account in with the chosen method, then plans. Call it right in the click handler: a sign-in page
     * opens in a popup here, before anything is awaited, or the browser blocks it.
     */
    public signInWith(choice: SignInChoice): void {
        const stage = this.state.stage;
        if (stage.name !== "sign-in" || !stage.offer || stage.wait || this.state.busy) return;
        const { offer } = stage;
        let attempt = new SignInAttempt();
        let input: NewAccountSignInInput;
        let wait: SignInWait | undefined;
        if (choice.method === "sso" || choice.method === "oauth") {
            const popup = this.host.openSignInWindow();
            if (!popup) {
                this.set({ error: { code: "popup-blocked", message: "window.open() returned null" } });
                return;
            }
            input = { ...choice, window: popup };
            wait = { kind: "popup" };
            attempt = new SignInAttempt(() => popup.close());
        } else if (choice.method === "device") {
            const abort = new AbortController();
            input = {
                method: "device",
                signal: abort.signal,
                onCode: (prompt) => {
                    const now = this.state.stage;
                    if (now.name === "sign-in" && now.wait?.kind === "device")
                        this.setStage({ ...now, wait: { kind: "device", prompt } });
                },
            };
            wait = { kind: "device" };
            attempt = new SignInAttempt(() => abort.abort());
        } else {
            input = choice;
        }
        if (wait) this.attempt = attempt;
        this.setStage({ ...stage, wait });
        const continuing = stage.continuing;
        void this.act(async (rt) => {
            try {
                const account = await rt.signIn(offer, input);
                this.signedIn = account;
                const planned = attempt.cancelled
                    ? undefined
                    : await Promise.all([rt.plan(account, this.host.defaultOptions), rt.keyStatus(account)]);
                if (attempt.cancelled || !planned) {
                    // Cancelled just as it signed in (or while it planned): that session is not wanted.
                    this.signedIn = null;
                    await rt.signOut(account).catch(() => undefined);
                    if (this.state.stage.name === "sign-in") this.setStage({ ...stage, wait: undefined });
                    return;
                }
                const [plan, keyStatus] = planned;
                const resumed = continuing && continuing.newUserId === account.userId ? continuing : undefined;
                this.setStage({
                    name: "review",
                    account,
                    plan: resumed ? applyChoices(plan, resumed.choices) : plan,
                    keyStatus,
                    continuing: resumed,
                });
            } catch (e) {
                if (this.state.stage.name === "sign-in") this.setStage({ ...stage, wait: undefined });
                // A wait the person cancelled is not an error to show.
                if (!attempt.cancelled) throw e;
            } finally {
                if (this.attempt === attempt) this.attempt = null;
            }
        });
    }

    /** Stops a sign-in under way elsewhere; the methods are offered again. */
    public cancelSignIn(): void {
        this.attempt?.cancel();
    }

    public changePlan(plan: MigrationPlan): void {
        if (this.state.stage.name === "review") this.setStage({ ...this.state.stage, plan });
    }

    public setKeyChoices(keyChoices: KeyChoices): void {
        this.set({ keyChoices });
    }

    public async checkKeysAgain(): Promise<void> {
        const stage = this.state.stage;
        if (stage.name !== "review") return;
        await this.act(async (rt) => {
            const keyStatus = await rt.keyStatus(stage.account);
            if (this.state.stage.name === "review") this.setStage({ ...this.state.stage, keyStatus });
        });
    }

    public async setUpRecovery(): Promise<void> {
        const stage = this.state.stage;
        if (stage.name !== "review" || this.state.busy) return;
        const abort = new AbortController();
        let cancelled = false;
        /** Shows what the server asks; the person's answer (null: cancelled) goes to `answer` (see `answerApproval`). */
        const ask = (what: ApprovalAsk, answer: (password: string | null) => void) => {
            this.approvalRequest = {
                ask: what,
                answer: (password) => {
                    if (password === null) cancelled = true;
                    answer(password);
                },
            };
            this.set({ approval: what });
        };
        const approval: RecoveryApprovalUi = {
            signal: abort.signal,
            askPassword: () => new Promise((resolve) => ask({ kind: "password" }, resolve)),
            // The set-up retries by itself once approved there; an answer here can only mean "stop waiting".
            showApprovalPage: (url) => ask({ kind: "page", url }, () => abort.abort()),
        };
        const key = await this.act(async (rt) => {
            try {
                return await rt.setUpRecovery(stage.account, this.state.keyChoices.newRecoveryKey, approval);
            } catch (e) {
                // Cancelling the approval is the person's choice, not an error to show.
                if (cancelled) return undefined;
                throw e;
            } finally {
                this.approvalRequest = null;
                this.set({ approval: undefined });
            }
        });
        if (!key) return;
        // The module made this backup, so it is trusted with the key it just made.
        this.set({ keyChoices: { ...this.state.keyChoices, newRecoveryKey: key }, newRecoveryKeyToSave: key });
        await this.checkKeysAgain();
    }

    /** The new account's password, for the server's one approval request (never kept). */
    public approveWithPassword(password: string): void {
        if (this.approvalRequest?.ask.kind === "password" && password) this.answerApproval(password);
    }

    /** Gives up the approval the server asked for: recovery is not set up, nothing changed. */
    public cancelApproval(): void {
        this.answerApproval(null);
    }

    /** The one way an answer reaches the set-up: the request is closed first, so it is answered once. */
    private answerApproval(password: string | null): void {
        const request = this.approvalRequest;
        if (!request) return;
        this.approvalRequest = null;
        this.set({ approval: undefined });
        request.answer(password);
    }

    public confirmRecoveryKeySaved(): void {
        this.set({ newRecoveryKeyToSave: undefined });
    }

    /** Element's key file for the plan's encrypted rooms; resolves to the number of keys in it. */
    public async exportKeyFile(passphrase: string): Promise<number | undefined> {
        const stage = this.state.stage;
        if (stage.name !== "review") return undefined;
        const file = await this.act((rt) => rt.exportKeyFile(stage.plan, passphrase, this.state.keyChoices));
        if (!file) return undefined;
        this.host.saveFile("element-keys.txt", file.text, "text/plain");
        return file.sessions;
    }

    /**
     * Saves the messages the new account won't see — of one room, or of every chosen room — as two downloads (JSON and
     * HTML), decrypted by Element's session. Busy while it runs: nothing starts (and no room is left) meanwhile.
     */
    public async exportHiddenHistory(roomIds?: string[]): Promise<void> {
        const stage = this.state.stage;
        if (stage.name !== "review" || this.state.busy) return;
        const saved = this.state.historyExport?.saved ?? [];
        this.set({ historyExport: { saved } });
        const result = await this.act((rt) =>
            rt.exportHiddenHistory(stage.plan, roomIds, this.state.keyChoices, exportWords(this.host.t), (progress) =>
                this.set({ historyExport: { saved, progress } }),
            ),
        );
        if (!result) return void this.set({ historyExport: { saved } });
        for (const f of result.files) this.host.saveFile(f.name, f.blob, f.blob.type);
        const done = new Set(result.rooms.map((r) => r.roomId));
        this.set({
            historyExport: {
                saved: [...saved.filter((r) => !done.has(r.roomId)), ...result.rooms],
                lastFiles: result.files.map((f) => f.name),
            },
        });
    }

    public start(dryRun: boolean): void {
        const stage = this.state.stage;
        if (stage.name !== "review" || this.state.busy || this.state.newRecoveryKeyToSave) return;
        const choices = { ...this.state.keyChoices, dryRun };
        // Recovery keys are used once, by the run's key preparation; the page forgets them now.
        this.set({ keyChoices: {} });
        const running: Stage = {
            name: "running",
            account: stage.account,
            plan: stage.plan,
            keyStatus: stage.keyStatus,
            dryRun,
            paused: false,
        };
        this.setStage(running);
        this.showEntryProgress();
        const updateRunning = (change: Partial<Extract<Stage, { name: "running" }>>) => {
            if (this.state.stage.name === "running") this.setStage({ ...this.state.stage, ...change });
            this.showEntryProgress();
        };
        const run = (rt: MigrationRuntime) =>
            rt.run(stage.account, stage.plan, choices, {
                onProgress: (progress) => updateRunning({ progress }),
                onWait: (lastWait) => updateRunning({ lastWait }),
                whilePaused: this.pauseGate.whilePaused,
            });
        // A dry run changes nothing; a real one refuses while another tab of this browser runs the same migration.
        void this.act((rt) =>
            dryRun ? run(rt) : whileHoldingMigrationLock(stage.plan.oldUserId, stage.plan.newUserId, () => run(rt)),
        ).then((report) => {
            this.resume();
            this.host.showProgress(null);
            // On an error before the run could start (e.g. a wrong recovery key), back to the plan as it was.
            if (!report) this.setStage(stage);
            else {
                // What was saved on this page before the run, named in its report.
                const kept = this.state.historyExport?.saved;
                this.setStage({
                    name: "report",
                    account: stage.account,
                    plan: stage.plan,
                    keyStatus: stage.keyStatus,
                    report: kept?.length ? { ...report, historyExports: kept } : report,
                });
            }
        });
    }

    public pause(): void {
        if (this.state.stage.name !== "running" || !this.pauseGate.pause()) return;
        this.setStage({ ...this.state.stage, paused: true });
        this.showEntryProgress();
    }

    public resume(): void {
        this.pauseGate.resume();
        if (this.state.stage.name === "running" && this.state.stage.paused) {
            this.setStage({ ...this.state.stage, paused: false });
            this.showEntryProgress();
        }
    }

    private showEntryProgress(): void {
        const stage = this.state.stage;
        if (stage.name !== "running") return;
        const total = stage.progress?.roomsTotal ?? stage.plan.rooms.filter((r) => r.selected).length;
        this.host.showProgress({ done: stage.progress?.roomsDone ?? 0, total, paused: stage.paused });
    }

    /** After a dry run: back to the plan to change it or start for real. */
    public backToPlan(): void {
        const stage = this.state.stage;
        if (stage.name === "report")
            this.setStage({ name: "review", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus });
    }

    /** Done: forget every secret, sign the temporary session out, start over. */
    public async finish(): Promise<void> {
        const account = this.signedIn;
        this.signedIn = null;
        this.set({
            stage: { name: "sign-in" },
            keyChoices: {},
            newRecoveryKeyToSave: undefined,
            error: undefined,
            historyExport: undefined,
        });
        if (account && this.runtime) await this.runtime.signOut(account).catch(() => undefined);
        this.set({ unfinished: this.readUnfinished() });
    }

    public copyText(text: string): Promise<void> {
        return this.host.copyText(text);
    }

    private readonly onPageHide = (): void => {
        if (this.signedIn && this.runtime) this.runtime.signOutOnPageHide(this.signedIn);
        this.signedIn = null;
    };
}
