/**
 * The migration's state, outside any React component: the page subscribes to it and may come and go (the user
 * leaves to chat, comes back) while a run goes on. One controller per Element session; the page chunk keeps it.
 * Secrets it holds (recovery keys) are cleared once used and on Finish; the new account's temporary session is
 * signed out on Finish and when the tab goes away.
 */
import type { ProgressEvent } from "../engine/context.ts";
import type { JournalDocument, RunChoices } from "../engine/journal.ts";
import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationPlan } from "../engine/plan.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import type { PageHost } from "./host.ts";
import {
    type KeyChoices,
    type KeyStatus,
    type MigrationRuntime,
    type NewAccountHandle,
    type RuntimeError,
    toRuntimeError,
} from "./runtime.ts";

/** A migration the journal says was started and not finished (the tab was closed mid-run). */
export interface UnfinishedRun {
    newUserId: string;
    startedAt: number;
    roomsDone: number;
    choices: RunChoices;
}

export type Stage =
    | { name: "sign-in"; continuing?: UnfinishedRun }
    | { name: "review"; account: NewAccountHandle; plan: MigrationPlan; keyStatus: KeyStatus; continuing?: UnfinishedRun }
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
}

/** Reads unfinished migrations from the journal document (anything malformed is ignored). */
export function unfinishedRuns(doc: unknown): UnfinishedRun[] {
    const d = doc as Partial<JournalDocument> | undefined;
    if (d?.version !== 1 || typeof d.migrations !== "object" || !d.migrations) return [];
    return Object.entries(d.migrations)
        .filter(([, j]) => j && typeof j === "object" && !j.finishedAt && j.choices && Array.isArray(j.choices.rooms))
        .map(([newUserId, j]) => ({
            newUserId,
            startedAt: j.startedAt,
            roomsDone: Object.values(j.rooms ?? {}).filter((r) => r?.c !== undefined).length,
            choices: j.choices!,
        }));
}

/** The plan as the user chose it before: the same rooms, options and settings. */
function applyChoices(plan: MigrationPlan, choices: RunChoices): MigrationPlan {
    const rooms = new Set(choices.rooms);
    const settings = new Set(choices.settings);
    return {
        ...plan,
        rooms: plan.rooms.map((r) => ({ ...r, selected: rooms.has(r.roomId) && (r.status === "ready" || r.status === "already") })),
        options: { ...plan.options, ...choices.options },
        optionalAccountData: plan.optionalAccountData.map((o) => ({ ...o, selected: settings.has(o.type) })),
    };
}

export class MigrationController {
    private state: ControllerState;
    private readonly listeners = new Set<() => void>();
    private runtime: MigrationRuntime | null = null;
    private resumePaused: (() => void) | null = null;
    private pausedGate: Promise<void> | null = null;
    private signedIn: NewAccountHandle | null = null;

    public constructor(private readonly host: PageHost) {
        this.state = { stage: { name: "sign-in" }, busy: false, keyChoices: {}, unfinished: unfinishedRuns(host.readJournal()) };
        window.addEventListener("pagehide", this.onPageHide);
        // Element may sync the journal after the page opened (a fresh start): offer to continue once it arrives.
        host.watchJournal(() => this.refreshUnfinished());
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

    /** Re-reads the journal (the page opened again); only while nothing is under way. */
    public refreshUnfinished(): void {
        if (this.state.stage.name === "sign-in" && !this.state.busy) this.set({ unfinished: unfinishedRuns(this.host.readJournal()) });
    }

    public continueRun(run: UnfinishedRun | undefined): void {
        if (this.state.stage.name === "sign-in") this.set({ stage: { name: "sign-in", continuing: run }, error: undefined });
    }

    // TEMPORARY (merge of the sign-in branch): password only, through discover + signIn; the method choice comes next.
    public async signIn(input: { newUserId: string; homeserverUrl?: string; password: string }): Promise<void> {
        const continuing = this.state.stage.name === "sign-in" ? this.state.stage.continuing : undefined;
        await this.act(async (rt) => {
            const offer = await rt.discover({ newUserId: input.newUserId, homeserverUrl: input.homeserverUrl });
            const account = await rt.signIn(offer, { method: "password", password: input.password });
            this.signedIn = account;
            const [plan, keyStatus] = await Promise.all([rt.plan(account, this.host.defaultOptions), rt.keyStatus(account)]);
            const resumed = continuing && continuing.newUserId === account.userId ? continuing : undefined;
            this.setStage({ name: "review", account, plan: resumed ? applyChoices(plan, resumed.choices) : plan, keyStatus, continuing: resumed });
        });
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
        if (stage.name !== "review") return;
        const key = await this.act((rt) =>
            rt.setUpRecovery(stage.account, this.state.keyChoices.newRecoveryKey, {
                askPassword: async () => null,
                showApprovalPage: () => undefined,
                signal: new AbortController().signal,
            }),
        );
        if (!key) return;
        // The module made this backup, so it is trusted with the key it just made.
        this.set({ keyChoices: { ...this.state.keyChoices, newRecoveryKey: key }, newRecoveryKeyToSave: key });
        await this.checkKeysAgain();
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

    public start(dryRun: boolean): void {
        const stage = this.state.stage;
        if (stage.name !== "review" || this.state.busy || this.state.newRecoveryKeyToSave) return;
        const choices = { ...this.state.keyChoices, dryRun };
        // Recovery keys are used once, by the run's key preparation; the page forgets them now.
        this.set({ keyChoices: {} });
        const running: Stage = { name: "running", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus, dryRun, paused: false };
        this.setStage(running);
        this.showEntryProgress();
        const updateRunning = (change: Partial<Extract<Stage, { name: "running" }>>) => {
            if (this.state.stage.name === "running") this.setStage({ ...this.state.stage, ...change });
            this.showEntryProgress();
        };
        void this.act((rt) =>
            rt.run(stage.account, stage.plan, choices, {
                onProgress: (progress) => updateRunning({ progress }),
                onWait: (lastWait) => updateRunning({ lastWait }),
                whilePaused: () => this.pausedGate ?? Promise.resolve(),
            }),
        ).then((report) => {
            this.resume();
            this.host.showProgress(null);
            // On an error before the run could start (e.g. a wrong recovery key), back to the plan.
            if (!report) this.setStage({ name: "review", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus });
            else this.setStage({ name: "report", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus, report });
        });
    }

    public pause(): void {
        if (this.state.stage.name !== "running" || this.pausedGate) return;
        this.pausedGate = new Promise((resolve) => (this.resumePaused = resolve));
        this.setStage({ ...this.state.stage, paused: true });
        this.showEntryProgress();
    }

    public resume(): void {
        this.resumePaused?.();
        this.resumePaused = null;
        this.pausedGate = null;
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
        if (stage.name === "report") this.setStage({ name: "review", account: stage.account, plan: stage.plan, keyStatus: stage.keyStatus });
    }

    /** Done: forget every secret, sign the temporary session out, start over. */
    public async finish(): Promise<void> {
        const account = this.signedIn;
        this.signedIn = null;
        this.set({ stage: { name: "sign-in" }, keyChoices: {}, newRecoveryKeyToSave: undefined, error: undefined });
        if (account && this.runtime) await this.runtime.signOut(account).catch(() => undefined);
        this.set({ unfinished: unfinishedRuns(this.host.readJournal()) });
    }

    public copyText(text: string): Promise<void> {
        return this.host.copyText(text);
    }

    private readonly onPageHide = (): void => {
        if (this.signedIn && this.runtime) this.runtime.signOutOnPageHide(this.signedIn);
        this.signedIn = null;
    };
}

