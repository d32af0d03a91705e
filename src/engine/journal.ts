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

/** Refuses a journal document written by a newer version (anything else unreadable is started afresh). */
export function checkJournalFormat(doc: unknown): void {
    const version = (doc as { version?: unknown } | undefined)?.version;
    if (typeof version === "number" && version > 1) throw new NewerJournalError(version);
}

export function emptyJournal(): MigrationJournal {
    const now = nowSeconds();
    return { startedAt: now, updatedAt: now, rooms: {}, account: {} };
}

/** Reads the journal for one new account out of the document, tolerating anything malformed (starts afresh). */
export function journalFor(doc: unknown, newUserId: string): MigrationJournal {
    const d = doc as Partial<JournalDocument> | undefined;
    const existing = d?.version === 1 ? d.migrations?.[newUserId] : undefined;
    if (!existing || typeof existing !== "object" || typeof existing.rooms !== "object") return emptyJournal();
    return { ...emptyJournal(), ...existing, account: { ...existing.account }, rooms: { ...existing.rooms } };
}

export function withJournal(doc: unknown, newUserId: string, journal: MigrationJournal): JournalDocument {
    const d = doc as Partial<JournalDocument> | undefined;
    const migrations = d?.version === 1 && d.migrations ? { ...d.migrations } : {};
    migrations[newUserId] = journal;
    return { version: 1, migrations };
}
