/**
 * Everything decided before keys move, shared by the Element page and the CLI: which sources the old account's keys
 * come from, which backup receives them and why it is trusted — or why keys cannot move yet, in words a person can
 * act on. Problems with what the user typed (a wrong recovery key, a backup that is not the account's own) throw
 * before anything is written.
 */
import type { AccountSession } from "../engine/context.ts";
import { type BackupVersion, backupKeyFromRecoveryKey, currentBackup } from "./backups.ts";
import { isBackupPrivateKeyFor } from "./backupCrypto.ts";
import { KeysError } from "./errors.ts";
import { type BackupTrust, BackupKeyHandover, type KeyHandoverSettings } from "./handover.ts";
import type { LocalRoomKeys } from "./keySources.ts";
import { setUpNewAccountRecovery } from "./recoverySetup.ts";

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
    /** Set up recovery for a new account without a backup (needs its password for the server's approval). */
    setUpNewBackup?: { password: string };
    /** Changes nothing: a missing backup is reported, not created. */
    dryRun?: boolean;
}

export interface KeyPreparation {
    handover: BackupKeyHandover;
    /** What the user should know (e.g. where the old backup could not be read). */
    notes: string[];
    /** Shown once when this tool created the new account's recovery. */
    createdRecoveryKey?: string;
    target: KeyHandoverSettings["target"];
    oldBackup: KeyHandoverSettings["oldBackup"];
}

export const NO_NEW_BACKUP_ADVICE =
    "The new account has no key backup, so its encrypted history cannot be handed over yet. Either sign in to it once in " +
    "Element and turn on key storage (Settings → Encryption → Recovery), then continue; or let this tool set up recovery " +
    "for it; or export the keys as a file to import in Element.";

export const UNVERIFIED_BACKUP_RISK =
    "The new account's key backup could not be checked without its recovery key. If its homeserver were malicious, it " +
    "could have put its own key there and read every message key handed over.";

/**
 * Opens the old account's backup: with the old recovery key when given (a wrong one throws), otherwise with the key
 * the old session holds. What could not be opened is said in `notes`.
 */
export async function openOldBackup(
    input: Pick<KeyPreparationInput, "old" | "oldCrypto" | "oldRecoveryKey">,
    notes: string[],
): Promise<KeyHandoverSettings["oldBackup"]> {
    const backup = await currentBackup(input.old.http);
    if (!backup) {
        if (input.oldRecoveryKey) notes.push("The old account has no key backup; only the keys the old session holds are handed over.");
        return undefined;
    }
    if (input.oldRecoveryKey) {
        const { privateKey } = await backupKeyFromRecoveryKey(input.old.http, input.old.userId, input.oldRecoveryKey, backup).catch((e) => {
            throw relabel(e, "old");
        });
        return { version: backup.version, privateKey };
    }
    const cached = await input.oldCrypto?.getSessionBackupPrivateKey?.().catch(() => null);
    if (cached && (await isBackupPrivateKeyFor(cached, backup.publicKey))) return { version: backup.version, privateKey: cached };
    notes.push(
        "The old account's key backup could not be opened (this session does not hold its key). Keys only in that backup " +
            "are not handed over; give the old recovery key to include them.",
    );
    return undefined;
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
    const oldBackup = await openOldBackup(input, notes);
    let target: KeyHandoverSettings["target"];
    let createdRecoveryKey: string | undefined;
    const backup: BackupVersion | null = await currentBackup(input.new.http);
    if (backup) {
        let trust: BackupTrust | undefined;
        if (input.newRecoveryKey) {
            await backupKeyFromRecoveryKey(input.new.http, input.new.userId, input.newRecoveryKey, backup).catch((e) => {
                throw relabel(e, "new");
            });
            trust = "recovery-key";
        } else {
            const consent = input.trustUnverifiedNewBackup;
            if (typeof consent === "function" ? await consent() : consent) trust = "consent";
        }
        target = trust ? { backup, trust } : { unavailable: `${UNVERIFIED_BACKUP_RISK} Give the new account's recovery key, or agree to that risk.` };
    } else if (input.setUpNewBackup && input.dryRun) {
        target = { unavailable: "Dry run: recovery would be set up for the new account, and the keys handed to its new backup." };
    } else if (input.setUpNewBackup) {
        const created = await setUpNewAccountRecovery(input.new.http, {
            baseUrl: input.new.baseUrl,
            userId: input.new.userId,
            password: input.setUpNewBackup.password,
            recoveryKey: input.newRecoveryKey,
        });
        target = { backup: created.backup, trust: "created" };
        if (!input.newRecoveryKey) createdRecoveryKey = created.recoveryKey;
    } else {
        target = { unavailable: NO_NEW_BACKUP_ADVICE };
    }
    const handover = new BackupKeyHandover({ local: input.oldCrypto, oldBackup, target });
    return { handover, notes, createdRecoveryKey, target, oldBackup };
}
