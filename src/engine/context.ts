/** What every step of a running migration shares: the two accounts, the scheduler, the journal, progress. */
import { type MatrixHttp, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import {
    HEARTBEAT_INTERVAL_MS,
    JOURNAL_EVENT_TYPE,
    type JournalDocument,
    type MigrationJournal,
    checkJournalFormat,
    journalFor,
    nowSeconds,
    withJournal,
} from "./journal.ts";
import type { MigrationPlan } from "./plan.ts";
import type { BucketName, Scheduler } from "./scheduler.ts";

/** One account the engine acts for. */
export interface AccountSession {
    userId: string;
    http: MatrixHttp;
    /** This session's device, where known: the journal's heartbeat names it (see `runningElsewhere`). */
    deviceId?: string;
    /**
     * Invites while sharing the room's encrypted history with the invitee's devices (MSC4268), when this side runs
     * crypto (Element's client). Used in addition to the key backup, never instead of it.
     */
    inviteSharingHistory?(roomId: string, userId: string): Promise<void>;
    /**
     * Sends a message through a client that encrypts it where the room is encrypted (Element's client). Without it,
     * nothing is ever posted into an encrypted room.
     */
    sendMessage?(roomId: string, content: Record<string, unknown>, txnId: string): Promise<void>;
}

export interface MigrationSides {
    old: AccountSession;
    new: AccountSession;
}

export type StepName =
    | "profile"
    | "invite"
    | "power"
    | "join"
    | "knock"
    | "confirm"
    | "room-data"
    | "keys"
    | "leave"
    | "dm-note"
    | "direct"
    | "push-rules"
    | "ignored-users"
    | "account-data"
    | "moved-name";

export interface ProgressEvent {
    step: StepName;
    roomId?: string;
    roomName?: string;
    /** Rooms finished so far, of the rooms chosen. */
    roomsDone: number;
    roomsTotal: number;
    etaMs: number;
    /** Set when the ETA is dominated by something the user should know about (e.g. the invite limit). */
    etaExplanation?: string;
    message: string;
}

/**
 * The journal document in the old account's account data (undefined when there is none). Throws when a newer version
 * of this tool wrote it: front ends call this before changing anything.
 */
export async function readJournalDocument(old: AccountSession): Promise<unknown> {
    const doc = await orIfNotFound(
        old.http.request("GET", `/user/${seg(old.userId)}/account_data/${seg(JOURNAL_EVENT_TYPE)}`),
        undefined,
    );
    checkJournalFormat(doc);
    return doc;
}

/**
 * Holds the journal and writes it back coalesced: steps mark it dirty, and at most one write per second goes to the
 * old account's account data (plus a final one).
 */
export class JournalWriter {
    private doc: unknown;
    public journal!: MigrationJournal;
    private dirty = false;
    private flushing: Promise<void> | null = null;
    private timer: ReturnType<typeof setTimeout> | null = null;
    private heartbeat: ReturnType<typeof setInterval> | null = null;

    public constructor(
        private readonly old: AccountSession,
        private readonly newUserId: string,
        private readonly scheduler: Scheduler,
        private readonly dryRun: boolean,
    ) {}

    public async load(): Promise<void> {
        this.doc = await this.scheduler.run("old:read", () => readJournalDocument(this.old));
        this.journal = journalFor(this.doc, this.newUserId);
    }

    public update(change: (j: MigrationJournal) => void): void {
        change(this.journal);
        this.journal.updatedAt = nowSeconds();
        this.dirty = true;
        if (!this.dryRun && !this.timer) this.timer = setTimeout(() => void this.flush().catch(() => undefined), 1000);
    }

    /**
     * Says in the journal, now and every `intervalMs`, that this run is under way on `deviceId`: a page elsewhere
     * then shows it as running, not as interrupted. Not in a dry run (which writes nothing).
     */
    public startHeartbeat(deviceId: string, runner?: string, intervalMs = HEARTBEAT_INTERVAL_MS): void {
        if (this.dryRun || this.heartbeat) return;
        const beat = () =>
            this.update((j) => {
                j.heartbeatAt = nowSeconds();
                j.heartbeatDevice = deviceId;
                if (runner) j.heartbeatRunner = runner;
            });
        beat();
        // The first beat goes out at once (a page elsewhere should know from the start), the rest with the next flush.
        void this.flush().catch(() => undefined);
        this.heartbeat = setInterval(beat, intervalMs);
        // The CLI must not stay alive for a heartbeat.
        (this.heartbeat as { unref?(): void }).unref?.();
    }

    /** The run ends (finished or stopped): the heartbeat goes, with the next flush. */
    public stopHeartbeat(): void {
        if (!this.heartbeat) return;
        clearInterval(this.heartbeat);
        this.heartbeat = null;
        this.update((j) => {
            delete j.heartbeatAt;
            delete j.heartbeatDevice;
            delete j.heartbeatRunner;
        });
    }

    public async flush(): Promise<void> {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (this.dryRun) return;
        while (this.flushing) await this.flushing;
        if (!this.dirty) return;
        this.dirty = false;
        const doc: JournalDocument = withJournal(this.doc, this.newUserId, this.journal);
        this.flushing = this.scheduler
            .run("old:accountData", () =>
                this.old.http.request("PUT", `/user/${seg(this.old.userId)}/account_data/${seg(JOURNAL_EVENT_TYPE)}`, {
                    body: doc,
                }),
            )
            .then(() => {
                this.doc = doc;
            })
            .catch((e) => {
                this.dirty = true;
                throw e;
            })
            .finally(() => {
                this.flushing = null;
            });
        await this.flushing;
    }
}

export interface MigrationContext {
    plan: MigrationPlan;
    sides: MigrationSides;
    scheduler: Scheduler;
    journal: JournalWriter;
    dryRun: boolean;
    /** Requests that change something go through here, so a dry run provably sends none. */
    write<T>(
        bucket: BucketName,
        side: AccountSession,
        method: "PUT" | "POST" | "DELETE",
        path: string,
        opts?: Parameters<MatrixHttp["request"]>[2],
    ): Promise<T | undefined>;
    /** A change made through something other than MatrixHttp (e.g. the host's own client), same pacing and dry-run rule. */
    writeWith<T>(bucket: BucketName, change: () => Promise<T>): Promise<T>;
    read<T>(
        bucket: BucketName,
        side: AccountSession,
        path: string,
        opts?: Parameters<MatrixHttp["request"]>[2],
    ): Promise<T>;
    progress(step: StepName, message: string, room?: { roomId: string; name: string }): void;
}
