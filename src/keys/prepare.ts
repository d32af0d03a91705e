/**
 * Everything decided before keys move, shared by the Element page and the CLI: which sources the old account's keys
 * come from, which backup receives them and why it is trusted — or why keys cannot move yet, in words a person can
 * act on. Problems with what the user typed (a wrong recovery key, a backup that is not the account's own) throw
 * before anything is written.
 */
import type { AccountSession } from "../engine/context.ts";
import { reason } from "../engine/reasons.ts";
import { backupKeyFromRecoveryKey, lookUpBackup } from "./backups.ts";
import { isBackupPrivateKeyFor } from "./backupCrypto.ts";
import { KeysError } from "./errors.ts";
import { type BackupTrust, BackupKeyHandover, type HandoverTarget, type KeyHandoverSettings } from "./handover.ts";
import type { LocalRoomKeys } from "./keySources.ts";
import { type RecoverySetupInput, setUpNewAccountRecovery } from "./recoverySetup.ts";

/** The old session's crypto, as matrix-js-sdk's CryptoApi offers it (any copy of the SDK). */
export interface OldSessionCrypto extends LocalRoomKeys {
    getSessionBackupPrivateKey?(): Promise<Uint8Array | null>;
}

export interface KeyPreparationInput {
    old: AccountSession;
    new: AccountSession & { baseUrl: string };
    oldCrypto?: OldSessionCrypto;
    oldRecoveryKey?: string;
    newRecoveryKey?: string;
    /**
     * The user's explicit "yes" to writing into a backup that could not be verified — or a question asked only when
     * that is the case.
     */
    trustUnverifiedNewBackup?: boolean | (() => Promise<boolean>);
    /** Set up recovery for a new account without a backup, on the migration's own session of it. */
    setUpNewBackup?: Pick<RecoverySetupInput, "session" | "approval">;
    /** Changes nothing: a missing backup is reported, not created. */
    dryRun?: boolean;
}

export interface KeyPreparation {
    handover: BackupKeyHandover;
    /** What the user should know (e.g. where the old backup could not be read). */
    notes: string[];
    /** Shown once when this tool created the new account's recovery. */
    createdRecoveryKey?: string;
    target: HandoverTarget;
    oldBackup: KeyHandoverSettings["oldBackup"];
}

export const NO_NEW_BACKUP_ADVICE =
    "The new account has no key backup, so its encrypted history cannot be handed over yet. Either sign in to it once in " +
    "Element and turn on key storage (Settings → Encryption → Recovery), then continue; or let this tool set up recovery " +
    "for it; or export the keys as a file to import in Element.";

export const UNVERIFIED_BACKUP_RISK =
    "The new account's key backup could not be checked without its recovery key. If its homeserver were malicious, it " +
    "could have put its own key there and read every message key handed over.";

/** What the page shows about keys before a run: where keys can come from and go to, and what stops them. */
export interface KeySituation {
    /** The old account has a server-side key backup (usable or not). */
    oldBackup: boolean;
    /** This session holds the key of that backup (no old recovery key needed). */
    oldBackupKeyInSession: boolean;
    /** Why the old backup cannot be read by this tool (its keys then stay where they are; the rest still moves). */
    oldBackupProblem?: string;
    /** The new account has a key backup that can receive keys. */
    newBackup: boolean;
    /** Why the new account's backup cannot receive keys. */
    newBackupProblem?: string;
    /** The old session can export keys. */
    oldSessionKeys: boolean;
}

/** Reads both accounts' backups without failing on one this tool cannot use: that only disables the hand-over. */
export async function keySituation(
    old: AccountSession,
    neu: AccountSession,
    oldCrypto?: OldSessionCrypto,
): Promise<KeySituation> {
    const [oldLookup, newLookup] = await Promise.all([lookUpBackup(old.http), lookUpBackup(neu.http)]);
    const cached =
        oldLookup.state === "usable" ? await oldCrypto?.getSessionBackupPrivateKey?.().catch(() => null) : null;
    return {
        oldBackup: oldLookup.state !== "none",
        oldBackupKeyInSession:
            !!cached &&
            oldLookup.state === "usable" &&
            (await isBackupPrivateKeyFor(cached, oldLookup.backup.publicKey)),
        ...(oldLookup.state === "unusable" ? { oldBackupProblem: oldLookup.why } : {}),
        newBackup: newLookup.state === "usable",
        ...(newLookup.state === "unusable" ? { newBackupProblem: newLookup.why } : {}),
        oldSessionKeys: oldCrypto !== undefined,
    };
}

interface OldBackupAccess {
    opened?: KeyHandoverSettings["oldBackup"];
    /** The version, when the backup exists but was not opened: its session ids can still be listed. */
    listing?: { version: string };
}

/**
 * Opens the old account's backup: with the old recovery key when given (a wrong one throws), otherwise with the key
 * the old session holds. What could not be opened is said in `notes`; a backup this tool cannot use is a note too,
 * never a reason to stop.
 */
async function readOldBackup(
    input: Pick<KeyPreparationInput, "old" | "oldCrypto" | "oldRecoveryKey">,
    notes: string[],
): Promise<OldBackupAccess> {
    const lookup = await lookUpBackup(input.old.http);
    if (lookup.state === "none") {
        if (input.oldRecoveryKey)
            notes.push("The old account has no key backup; only the keys the old session holds are handed over.");
        return {};
    }
    if (lookup.state === "unusable") {
        notes.push(
            `The old account's key backup cannot be read by this tool (${lookup.why}). Keys only in that backup are not handed ` +
                "over, and the old account stays in rooms whose keys would be lost.",
        );
        return lookup.version ? { listing: { version: lookup.version } } : {};
    }
    const backup = lookup.backup;
    if (input.oldRecoveryKey) {
        const { privateKey } = await backupKeyFromRecoveryKey(
            input.old.http,
            input.old.userId,
            input.oldRecoveryKey,
            backup,
        ).catch((e) => {
            throw relabel(e, "old");
        });
        return { opened: { version: backup.version, privateKey } };
    }
    const cached = await input.oldCrypto?.getSessionBackupPrivateKey?.().catch(() => null);
    if (cached && (await isBackupPrivateKeyFor(cached, backup.publicKey)))
        return { opened: { version: backup.version, privateKey: cached } };
    notes.push(
        "The old account's key backup could not be opened (this session does not hold its key). Keys only in that backup " +
            "are not handed over, and the old account stays in rooms whose keys are only there; give the old recovery key to include them.",
    );
    return { listing: { version: backup.version } };
}

/** The old account's backup opened for reading, or undefined (see `readOldBackup`). */
export async function openOldBackup(
    input: Pick<KeyPreparationInput, "old" | "oldCrypto" | "oldRecoveryKey">,
    notes: string[],
): Promise<KeyHandoverSettings["oldBackup"]> {
    return (await readOldBackup(input, notes)).opened;
}

/** Names which account a recovery-key problem is about. */
function relabel(e: unknown, which: "old" | "new"): unknown {
    if (e instanceof KeysError && e.code.startsWith("recovery_key")) {
        return new KeysError(e.code, `${which === "old" ? "Old" : "New"} account's recovery key: ${e.message}`);
    }
    return e;
}

export async function prepareKeyHandover(input: KeyPreparationInput): Promise<KeyPreparation> {
    const notes: string[] = [];
    const oldAccess = await readOldBackup(input, notes);
    let target: HandoverTarget;
    let createdRecoveryKey: string | undefined;
    const newLookup = await lookUpBackup(input.new.http);
    if (newLookup.state === "usable") {
        const backup = newLookup.backup;
        let trust: BackupTrust | undefined;
        if (input.newRecoveryKey) {
            await backupKeyFromRecoveryKey(input.new.http, input.new.userId, input.newRecoveryKey, backup).catch(
                (e) => {
                    throw relabel(e, "new");
                },
            );
            trust = "recovery-key";
        } else {
            const consent = input.trustUnverifiedNewBackup;
            if (typeof consent === "function" ? await consent() : consent) trust = "consent";
        }
        target = trust
            ? { backup, trust }
            : {
                  unavailable: `${UNVERIFIED_BACKUP_RISK} Give the new account's recovery key, or agree to that risk.`,
                  reason: reason("keys-backup-unverified"),
              };
    } else if (newLookup.state === "unusable") {
        target = {
            unavailable: `The new account's key backup cannot be used by this tool (${newLookup.why}); its encrypted history cannot be handed over.`,
            reason: reason("keys-new-backup-unusable", { why: newLookup.why }),
        };
    } else if (input.setUpNewBackup && input.dryRun) {
        target = {
            unavailable:
                "Dry run: recovery would be set up for the new account, and the keys handed to its new backup.",
            reason: reason("keys-dry-run"),
        };
    } else if (input.setUpNewBackup) {
        const created = await setUpNewAccountRecovery(input.new.http, {
            ...input.setUpNewBackup,
            recoveryKey: input.newRecoveryKey,
        });
        target = { backup: created.backup, trust: "created" };
        if (!input.newRecoveryKey) createdRecoveryKey = created.recoveryKey;
    } else {
        target = { unavailable: NO_NEW_BACKUP_ADVICE, reason: reason("keys-no-new-backup") };
    }
    const handover = new BackupKeyHandover({
        local: input.oldCrypto,
        oldBackup: oldAccess.opened,
        oldBackupListing: oldAccess.listing,
        target,
    });
    return { handover, notes, createdRecoveryKey, target, oldBackup: oldAccess.opened };
}
