/**
 * The one owner of the journal in the old account's account data: reading it with the version rule, writing it through
 * the scheduler, recording the person's choices before a run, marking a room's steps. journal.ts has its format.
 */
import { orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import type { AccountSession } from "./context.ts";
import {
    HEARTBEAT_INTERVAL_MS,
    JOURNAL_EVENT_TYPE,
    type JournalDocument,
    type MigrationJournal,
    type RoomJournal,
    type RunChoices,
    type RunningElsewhere,
    checkJournalFormat,
    journalFor,
    nowSeconds,
    runningElsewhere,
    withJournal,
} from "./journal.ts";
import type { MigrationPlan } from "./plan.ts";
import type { Scheduler } from "./scheduler.ts";

function journalPath(old: AccountSession): string {
    return `/user/${seg(old.userId)}/account_data/${seg(JOURNAL_EVENT_TYPE)}`;
}

/**
 * The journal document in the old account's account data (undefined when there is none). Throws when a newer version
 * of this tool wrote it: front ends call this before changing anything.
 */
export async function readJournalDocument(old: AccountSession): Promise<unknown> {
    const doc = await orIfNotFound(old.http.request("GET", journalPath(old)), undefined);
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

    /** Notes what a room's step did (see RoomJournal for the letters), with the next write. */
    public markRoom(roomId: string, marks: RoomJournal): void {
        this.update((j) => Object.assign((j.rooms[roomId] ??= {}), marks));
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
            .run("old:accountData", () => this.old.http.request("PUT", journalPath(this.old), { body: doc }))
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

/** What the person chose for a run, as the journal keeps it: a later page (or the CLI) continues the same run. */
export function choicesOf(plan: MigrationPlan): RunChoices {
    return {
        rooms: plan.rooms.filter((r) => r.selected).map((r) => r.roomId),
        options: plan.options,
        settings: plan.optionalAccountData.filter((o) => o.selected).map((o) => o.type),
    };
}

/**
 * The journal check every front end makes before a run: a newer version's journal is refused (readJournalDocument),
 * and a run of the same migration under way on another device is found (the front end says so in its own words).
 */
export async function checkJournalBeforeRun(
    old: AccountSession,
    newUserId: string,
    ourDeviceId: string | null | undefined,
    opts: { scheduler?: Scheduler; runner?: string } = {},
): Promise<{ doc: unknown; journal: MigrationJournal; elsewhere?: RunningElsewhere }> {
    const read = () => readJournalDocument(old);
    const doc = await (opts.scheduler ? opts.scheduler.run("old:read", read) : read());
    const journal = journalFor(doc, newUserId);
    const elsewhere = runningElsewhere(journal, ourDeviceId, Date.now(), opts.runner);
    return { doc, journal, ...(elsewhere ? { elsewhere } : {}) };
}

/**
 * The person's choices go into the journal before anything is written, so a later page can continue this run. Refuses
 * a journal of a newer version of this tool rather than overwrite it, and a run under way on another device.
 */
export async function recordChoices(
    old: AccountSession,
    plan: MigrationPlan,
    scheduler: Scheduler | undefined,
    ourDeviceId: string | null | undefined,
): Promise<void> {
    const { doc, journal, elsewhere } = await checkJournalBeforeRun(old, plan.newUserId, ourDeviceId, { scheduler });
    // Running on another device (or in the CLI) right now: not started here as well.
    if (elsewhere)
        throw Object.assign(
            new Error(
                `The migration to ${plan.newUserId} is running on another device (${elsewhere.deviceId}); nothing was changed.`,
            ),
            { code: "running-on-another-device" },
        );
    journal.choices = choicesOf(plan);
    delete journal.finishedAt;
    const write = () => old.http.request("PUT", journalPath(old), { body: withJournal(doc, plan.newUserId, journal) });
    await (scheduler ? scheduler.run("old:accountData", write) : write());
}
