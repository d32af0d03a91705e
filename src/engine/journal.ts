/**
 * The migration journal: progress stored in the OLD account's account data, so it survives a closed tab and is seen
 * from another device. It holds no secrets — room ids, levels, counts and times only.
 *
 * Live state is the truth (every step re-checks it); the journal records what live state cannot tell cheaply or at
 * all: that a room's keys were handed over, which account-wide steps ran, and when.
 */

import type { MigrationOptions } from "./plan.ts";

export const JOURNAL_EVENT_TYPE = "io.github.matrix_account_migration.journal";

/** Per room; short keys because the whole journal is one account-data event. Times are unix seconds. */
export interface RoomJournal {
    /** invited at */
    i?: number;
    /** power level set for the new account */
    p?: number;
    /** joined (or knocked: `k`) at */
    j?: number;
    k?: number;
    /** confirmed: the new account's level as read back from the room */
    c?: number;
    /** tags and room account data copied at */
    t?: number;
    /**
     * key hand-over: sessions of this room the new backup held when last read back with nothing missing, and that
     * backup's version. A record only: the leave gate always reads the live backup again.
     */
    keys?: number;
    kv?: string;
    /** old account left at */
    l?: number;
    /** "moved" note sent at */
    n?: number;
}

export interface AccountJournal {
    profile?: number;
    /** the new account's avatar mxc and the old one it copies, so a re-run does not upload it again */
    avatar?: { from: string; to: string };
    direct?: number;
    pushRules?: number;
    ignoredUsers?: number;
    accountData?: string[];
    movedName?: number;
}

/**
 * What the user chose, written before a real run starts, so a page opened later (the tab was closed) can continue
 * the same migration: the chosen rooms, the options and the optional settings. No secrets.
 */
export interface RunChoices {
    rooms: string[];
    options: MigrationOptions;
    settings: string[];
}

export interface MigrationJournal {
    choices?: RunChoices;
    startedAt: number;
    updatedAt: number;
    finishedAt?: number;
    /**
     * While a run is under way, the running side writes this every HEARTBEAT_INTERVAL_MS (unix seconds), with the
     * old account's device it runs on: another page (another device, or this one while the CLI runs) then knows the
     * migration is running elsewhere rather than interrupted. Removed when the run ends.
     */
    heartbeatAt?: number;
    heartbeatDevice?: string;
    /**
     * Which kind of run beats, where the device alone cannot tell: the CLI names its machine's lock here (see
     * src/cli/runLock.ts). A CLI run killed and started again signs in as another device, but holding that lock it
     * knows the beat is its dead predecessor's, and continues at once.
     */
    heartbeatRunner?: string;
    rooms: Record<string, RoomJournal>;
    account: AccountJournal;
    /** Filled by the key hand-over (see src/keys). */
    keys?: { backupVersion?: string; sessionsUploaded?: number; at?: number };
}

export interface JournalDocument {
    version: 1;
    migrations: Record<string, MigrationJournal>;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** How often a running migration says so in the journal, and how long that counts (three missed beats). */
export const HEARTBEAT_INTERVAL_MS = 30_000;
export const HEARTBEAT_FRESH_MS = 90_000;

const isString = (v: unknown): v is string => typeof v === "string";
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter(isString) : undefined);

/**
 * The choices restored from a journal, type-checked: the journal is read back from account data, which anything of
 * the old account's (another version, another client, a hand edit) may have written. A list that is not a list is
 * not taken as one — `"!"` as `acceptMissingKeys` would otherwise make `includes` a substring test that accepts every
 * room's losses. Without a list of rooms there are no choices to restore; an option that is not a boolean is off.
 */
export function readRunChoices(raw: unknown): RunChoices | undefined {
    if (!raw || typeof raw !== "object") return undefined;
    const c = raw as Record<string, unknown>;
    const rooms = strings(c.rooms);
    if (!rooms) return undefined;
    const o = (c.options && typeof c.options === "object" ? c.options : {}) as Record<string, unknown>;
    const flag = (key: "leaveOldRooms" | "movedNotice" | "copyDefaultPushRuleChanges") =>
        typeof o[key] === "boolean" ? o[key] : false; // every option is off by default (plan.ts DEFAULT_OPTIONS)
    return {
        rooms,
        options: {
            leaveOldRooms: flag("leaveOldRooms"),
            movedNotice: flag("movedNotice"),
            copyDefaultPushRuleChanges: flag("copyDefaultPushRuleChanges"),
            acceptMissingKeys: strings(o.acceptMissingKeys) ?? [],
        },
        settings: strings(c.settings) ?? [],
    };
}

/** A run that is going on right now on another device (or in the CLI): its heartbeat, and where it beats. */
export interface RunningElsewhere {
    deviceId: string;
    /** Unix seconds. */
    heartbeatAt: number;
}

/**
 * Whether this journal's migration is running elsewhere now: not finished, a heartbeat fresher than
 * HEARTBEAT_FRESH_MS (a beat from the future — another clock — counts within the same margin), from a device that is
 * not `ourDeviceId`, by a runner that is not `ourRunner` (a CLI holding this machine's lock of the migration).
 */
export function runningElsewhere(
    journal: Pick<MigrationJournal, "finishedAt" | "heartbeatAt" | "heartbeatDevice" | "heartbeatRunner">,
    ourDeviceId: string | null | undefined,
    nowMs = Date.now(),
    ourRunner?: string,
): RunningElsewhere | undefined {
    const { heartbeatAt, heartbeatDevice } = journal;
    if (journal.finishedAt !== undefined) return undefined;
    if (typeof heartbeatAt !== "number" || !Number.isFinite(heartbeatAt) || !isString(heartbeatDevice))
        return undefined;
    if (Math.abs(nowMs - heartbeatAt * 1000) >= HEARTBEAT_FRESH_MS) return undefined;
    if (heartbeatDevice === ourDeviceId) return undefined;
    if (ourRunner !== undefined && journal.heartbeatRunner === ourRunner) return undefined;
    return { deviceId: heartbeatDevice, heartbeatAt };
}

/** The journal's document is of a format newer than this tool knows: reading it as ours would overwrite it. */
export class NewerJournalError extends Error {
    public readonly code = "newer-journal";
    public constructor(public readonly version: number) {
        super(
            `The migration progress saved in the old account was written by a newer version of this tool (format ${version}). ` +
                "Use that version (or a newer one) to continue; nothing was changed.",
        );
        this.name = "NewerJournalError";
    }
}

/**
 * The version rule, the one place it is decided: a document of format 1 is ours; a higher number is a newer version's
 * (never read as ours, never overwritten); anything else is no journal (started afresh).
 */
export function journalFormatOf(
    doc: unknown,
): { format: "ours" } | { format: "newer"; version: number } | { format: "none" } {
    const version = (doc as { version?: unknown } | undefined)?.version;
    if (version === 1) return { format: "ours" };
    if (typeof version === "number" && version > 1) return { format: "newer", version };
    return { format: "none" };
}

/** Refuses a journal document written by a newer version (anything else unreadable is started afresh). */
export function checkJournalFormat(doc: unknown): void {
    const format = journalFormatOf(doc);
    if (format.format === "newer") throw new NewerJournalError(format.version);
}

export function emptyJournal(): MigrationJournal {
    const now = nowSeconds();
    return { startedAt: now, updatedAt: now, rooms: {}, account: {} };
}

/** Reads the journal for one new account out of the document, tolerating anything malformed (starts afresh). */
export function journalFor(doc: unknown, newUserId: string): MigrationJournal {
    const d = doc as Partial<JournalDocument> | undefined;
    const existing = journalFormatOf(d).format === "ours" ? d?.migrations?.[newUserId] : undefined;
    if (!existing || typeof existing !== "object" || !existing.rooms || typeof existing.rooms !== "object")
        return emptyJournal();
    const journal: MigrationJournal = {
        ...emptyJournal(),
        ...existing,
        account: { ...existing.account },
        rooms: { ...existing.rooms },
    };
    const choices = readRunChoices(existing.choices);
    if (choices) journal.choices = choices;
    else delete journal.choices;
    if (typeof journal.heartbeatAt !== "number" || !isString(journal.heartbeatDevice)) {
        delete journal.heartbeatAt;
        delete journal.heartbeatDevice;
    }
    if (!isString(journal.heartbeatRunner)) delete journal.heartbeatRunner;
    return journal;
}

export function withJournal(doc: unknown, newUserId: string, journal: MigrationJournal): JournalDocument {
    const d = doc as Partial<JournalDocument> | undefined;
    const migrations = journalFormatOf(d).format === "ours" && d?.migrations ? { ...d.migrations } : {};
    migrations[newUserId] = journal;
    return { version: 1, migrations };
}

/** A migration the journal says was started and not finished (the tab was closed mid-run). */
export interface UnfinishedRun {
    newUserId: string;
    startedAt: number;
    roomsDone: number;
    choices: RunChoices;
    /** Its heartbeat is fresh and from another device (or the CLI): it is running there, not interrupted. */
    elsewhere?: RunningElsewhere;
}

/**
 * Reads unfinished migrations from the journal document: each entry type-checked (anything malformed is ignored, and
 * so are choices that are not what they claim to be); one with a fresh heartbeat from another device than
 * `ourDeviceId` is marked as running elsewhere. A newer version's document (journalFormatOf) offers nothing to
 * continue: starting would be refused by checkJournalFormat, which tells the person why.
 */
export function unfinishedRuns(doc: unknown, ourDeviceId?: string | null, nowMs = Date.now()): UnfinishedRun[] {
    const d = doc as Partial<JournalDocument> | undefined;
    if (journalFormatOf(d).format !== "ours" || typeof d?.migrations !== "object" || !d.migrations) return [];
    const migrations = d.migrations;
    return Object.keys(migrations).flatMap((newUserId) => {
        const raw = migrations[newUserId] as unknown;
        if (!raw || typeof raw !== "object" || (raw as { finishedAt?: unknown }).finishedAt) return [];
        const j = journalFor(d, newUserId);
        if (!j.choices) return [];
        const elsewhere = runningElsewhere(j, ourDeviceId, nowMs);
        return [
            {
                newUserId,
                startedAt: j.startedAt,
                roomsDone: Object.values(j.rooms).filter((r) => r && typeof r === "object" && r.c !== undefined).length,
                choices: j.choices,
                ...(elsewhere ? { elsewhere } : {}),
            },
        ];
    });
}
