/**
 * Server-side key backups over HTTP: which backup an account has, opening it with a recovery key, and checking that
 * a backup really is the account's own before anything is written to it.
 */
import { type MatrixHttp, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import { MEGOLM_BACKUP_ALGORITHM, backupPrivateKeyFromSecret, isBackupPrivateKeyFor } from "./backupCrypto.ts";
import { KeysError } from "./errors.ts";
import {
    BACKUP_SECRET_NAME,
    DEFAULT_KEY_EVENT_TYPE,
    type SecretAccountData,
    type SecretStorageKeyDescription,
    type StoredSecret,
    WELL_KNOWN_SECRET_NAMES,
    checkSecretStorageKey,
    decodeRecoveryKey,
    keyDescriptionEventType,
    readSecret,
} from "./secretStorage.ts";

export interface BackupVersion {
    version: string;
    algorithm: string;
    publicKey: string;
    /** Sessions the server says it holds. */
    count?: number;
}

/** What an account has as its current backup: none, one this tool can write and read, or one it cannot use. */
export type BackupLookup =
    | { state: "none" }
    | { state: "usable"; backup: BackupVersion }
    /** Malformed or of an algorithm this tool does not support; its version (when known) still lets its sessions be listed. */
    | { state: "unusable"; version?: string; why: string };

export async function lookUpBackup(http: MatrixHttp): Promise<BackupLookup> {
    type Info = { version?: unknown; algorithm?: unknown; auth_data?: { public_key?: unknown }; count?: number };
    const info = await orIfNotFound(http.request<Info>("GET", "/room_keys/version"), null);
    if (!info) return { state: "none" };
    const version = typeof info.version === "string" ? info.version : undefined;
    const publicKey = info.auth_data?.public_key;
    if (info.algorithm !== MEGOLM_BACKUP_ALGORITHM) {
        return {
            state: "unusable",
            version,
            why: `it uses ${String(info.algorithm)}, which this tool does not support`,
        };
    }
    if (!version || typeof publicKey !== "string")
        return { state: "unusable", version, why: "its description is malformed" };
    return { state: "usable", backup: { version, algorithm: info.algorithm, publicKey, count: info.count } };
}

/** The account's current backup, or null when it has none; a backup this tool cannot use throws. */
export async function currentBackup(http: MatrixHttp): Promise<BackupVersion | null> {
    const lookup = await lookUpBackup(http);
    if (lookup.state === "unusable")
        throw new KeysError("backup_malformed", `The key backup cannot be used: ${lookup.why}`);
    return lookup.state === "usable" ? lookup.backup : null;
}

/** An account's own account data of one type, or undefined when it has none. */
export function accountData<T>(http: MatrixHttp, userId: string, type: string): Promise<T | undefined> {
    return orIfNotFound(http.request<T>("GET", `/user/${seg(userId)}/account_data/${seg(type)}`), undefined);
}

/**
 * Does `key` open the account's secret storage key `keyId`? Its description's check says so; for a description
 * an old client wrote without one, the secrets stored with that key are read and one of them must decrypt.
 */
export async function opensSecretStorage(
    http: MatrixHttp,
    userId: string,
    keyId: string,
    key: Uint8Array,
): Promise<boolean> {
    const description = await accountData<SecretStorageKeyDescription>(http, userId, keyDescriptionEventType(keyId));
    if (!description)
        throw new KeysError(
            "secret_storage_malformed",
            "The account's secret storage is incomplete (its key description is missing)",
        );
    return checkSecretStorageKey(key, description, async () => {
        const stored: StoredSecret[] = [];
        for (const name of WELL_KNOWN_SECRET_NAMES) {
            const encrypted = (await accountData<SecretAccountData>(http, userId, name))?.encrypted?.[keyId];
            if (encrypted) stored.push({ name, encrypted });
        }
        return stored;
    });
}

export type RecoveryKeyUse = "secret-storage" | "backup-key";

/**
 * Opens an account's backup with its recovery key. Element's recovery key unlocks secret storage, which holds the
 * backup key; older set-ups used the backup key itself as the recovery key, so that is tried when the account has
 * no secret storage. Returns the backup's private key; throws a KeysError a person can act on.
 */
export async function backupKeyFromRecoveryKey(
    http: MatrixHttp,
    userId: string,
    recoveryKeyText: string,
    backup: BackupVersion,
): Promise<{ privateKey: Uint8Array; openedWith: RecoveryKeyUse }> {
    const key = decodeRecoveryKey(recoveryKeyText);
    const defaultKey = await accountData<{ key?: string }>(http, userId, DEFAULT_KEY_EVENT_TYPE);
    if (defaultKey?.key) {
        if (!(await opensSecretStorage(http, userId, defaultKey.key, key))) {
            throw new KeysError("recovery_key_wrong", `That recovery key does not belong to ${userId}`);
        }
        const secret = await accountData<SecretAccountData>(http, userId, BACKUP_SECRET_NAME);
        if (!secret)
            throw new KeysError(
                "secret_storage_secret_missing",
                `${userId}'s secret storage does not hold its key backup's key`,
            );
        const privateKey = backupPrivateKeyFromSecret(
            await readSecret(secret, defaultKey.key, key, BACKUP_SECRET_NAME),
        );
        if (!(await isBackupPrivateKeyFor(privateKey, backup.publicKey))) {
            throw new KeysError(
                "backup_key_mismatch",
                `${userId}'s key backup (version ${backup.version}) does not match the key in its secret storage`,
            );
        }
        return { privateKey, openedWith: "secret-storage" };
    }
    if (await isBackupPrivateKeyFor(key, backup.publicKey)) return { privateKey: key, openedWith: "backup-key" };
    throw new KeysError("recovery_key_wrong", `That recovery key does not open ${userId}'s key backup`);
}
