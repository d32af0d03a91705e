/**
 * Reading Matrix secret storage (spec "Secret storage", algorithm `m.secret_storage.v1.aes-hmac-sha2`) with the raw
 * 32-byte key, and the recovery key text form of that key (spec appendix "Cryptographic key representation").
 * The cryptography is matrix-js-sdk's; this file checks inputs first and turns the SDK's plain errors into
 * KeysErrors a person can act on. Pure functions over account-data contents; fetching them is the caller's job.
 */
import {
    decodeRecoveryKey as sdkDecodeRecoveryKey,
    encodeRecoveryKey as sdkEncodeRecoveryKey,
} from "matrix-js-sdk/lib/crypto-api/recovery-key.js";
import { calculateKeyCheck } from "matrix-js-sdk/lib/secret-storage.js";
import decryptAESSecretStorageItem from "matrix-js-sdk/lib/utils/decryptAESSecretStorageItem.js";
import { decodeBase64 } from "./base64.ts";
import { KeysError, type KeysErrorCode } from "./errors.ts";
import { constantTimeEqual, toBuffer } from "./webCrypto.ts";

export const SECRET_STORAGE_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2";
/** Account data holding the id of the default key: `{ key: "<key id>" }`. */
export const DEFAULT_KEY_EVENT_TYPE = "m.secret_storage.default_key";
/** Secret names (also their account data types) the migration reads. */
export const BACKUP_SECRET_NAME = "m.megolm_backup.v1";
/** Secrets clients keep in secret storage: any of them, decrypted, proves a key whose description has no check. */
export const WELL_KNOWN_SECRET_NAMES = [
    BACKUP_SECRET_NAME,
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
];

/** Account data type of a key's description. */
export function keyDescriptionEventType(keyId: string): string {
    return `m.secret_storage.key.${keyId}`;
}

export interface PassphraseInfo {
    algorithm: string;
    salt: string;
    iterations: number;
    bits?: number;
}

/** Content of `m.secret_storage.key.<id>`. */
export interface SecretStorageKeyDescription {
    algorithm: string;
    name?: string;
    iv?: string;
    mac?: string;
    passphrase?: PassphraseInfo;
    [field: string]: unknown;
}

/** One secret encrypted with one key. */
export interface EncryptedSecret {
    iv: string;
    ciphertext: string;
    mac: string;
}

/** Content of a secret's account data (e.g. `m.megolm_backup.v1`): the secret encrypted with each key. */
export interface SecretAccountData {
    encrypted: Record<string, EncryptedSecret>;
}

const KEY_LENGTH = 32;

function checkKey(key: Uint8Array): void {
    if (key.length !== KEY_LENGTH) {
        throw new KeysError(
            "secret_storage_malformed",
            `A secret storage key has ${KEY_LENGTH} bytes, got ${key.length}`,
        );
    }
}

function decodeField(value: unknown, what: string): Uint8Array<ArrayBuffer> {
    if (typeof value !== "string")
        throw new KeysError("secret_storage_malformed", `Secret storage data has no ${what}`);
    try {
        return decodeBase64(value);
    } catch (e) {
        throw new KeysError("secret_storage_malformed", `Secret storage ${what} is not valid base64`, { cause: e });
    }
}

function checkIv(ivBase64: unknown): void {
    if (decodeField(ivBase64, "iv").length !== 16)
        throw new KeysError("secret_storage_malformed", "A secret storage iv is not 16 bytes");
}

/** Decrypts one encrypted secret, refusing (before decrypting) when its MAC does not match. */
export async function decryptSecret(encrypted: EncryptedSecret, key: Uint8Array, name: string): Promise<string> {
    checkKey(key);
    checkIv(encrypted?.iv);
    decodeField(encrypted?.ciphertext, "ciphertext");
    decodeField(encrypted?.mac, "mac");
    try {
        return await decryptAESSecretStorageItem(encrypted, toBuffer(key), name);
    } catch (e) {
        // The SDK's only refusal once the fields are well-formed.
        if (e instanceof Error && /bad MAC/.test(e.message)) {
            throw new KeysError(
                "secret_storage_bad_mac",
                `Secret ${JSON.stringify(name)} did not verify: wrong key, or the stored secret is damaged`,
                { cause: e },
            );
        }
        throw e;
    }
}

function checkAlgorithm(description: SecretStorageKeyDescription): void {
    if (description?.algorithm !== SECRET_STORAGE_ALGORITHM) {
        throw new KeysError(
            "secret_storage_unsupported_algorithm",
            `Unsupported secret storage key algorithm ${JSON.stringify(description?.algorithm)}; only ${SECRET_STORAGE_ALGORITHM} is known`,
        );
    }
}

/** A secret as stored with one key: its name (which the encryption depends on) and that key's copy. */
export interface StoredSecret {
    name: string;
    encrypted: EncryptedSecret;
}

/**
 * Is `key` the key this description was made for? The description's `iv`/`mac` say so. Very old clients wrote
 * descriptions without them; then secrets stored with the key (`storedSecrets`, read only in that case) are
 * decrypted, and a MAC that verifies proves the key. Throws when neither can tell.
 */
export async function checkSecretStorageKey(
    key: Uint8Array,
    description: SecretStorageKeyDescription,
    storedSecrets: () => Promise<StoredSecret[]> = async () => [],
): Promise<boolean> {
    checkAlgorithm(description);
    checkKey(key);
    if (typeof description.iv === "string" && typeof description.mac === "string") {
        checkIv(description.iv);
        const expected = decodeField(description.mac, "mac");
        const { mac } = await calculateKeyCheck(toBuffer(key), description.iv);
        return constantTimeEqual(decodeBase64(mac), expected);
    }
    const secrets = await storedSecrets();
    if (secrets.length === 0) {
        throw new KeysError(
            "secret_storage_key_uncheckable",
            "This secret storage key description has no iv/mac to check a key against, and no secret is stored with it",
        );
    }
    for (const { name, encrypted } of secrets) {
        try {
            await decryptSecret(encrypted, key, name);
            return true;
        } catch (e) {
            if (!(e instanceof KeysError && e.code === "secret_storage_bad_mac")) throw e;
        }
    }
    return false;
}

/** Reads secret `name` from its account data content, decrypting the copy made with key `keyId`. */
export async function readSecret(
    content: SecretAccountData,
    keyId: string,
    key: Uint8Array,
    name: string,
): Promise<string> {
    const encrypted = content?.encrypted?.[keyId];
    if (!encrypted) {
        throw new KeysError(
            "secret_storage_secret_missing",
            `Secret ${JSON.stringify(name)} is not stored with key ${JSON.stringify(keyId)}`,
        );
    }
    return decryptSecret(encrypted, key, name);
}

// ---- Recovery keys: matrix-js-sdk's, with whitespace ignored and errors explained.

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;
/** Base58 of 0x8B 0x01 | 32-byte key | parity: a 35-byte number starting 0x8B01 always has 48 base58 digits. */
const RECOVERY_KEY_CHARS = 48;

const RECOVERY_KEY_ERRORS = {
    recovery_key_malformed: "This is not a recovery key: it may contain only letters and digits, without 0, O, I and l",
    recovery_key_wrong_length: "This recovery key is too short or too long: check for missing or extra characters",
    recovery_key_wrong_prefix: "This is not a recovery key (wrong prefix): check that you copied the whole key",
    recovery_key_wrong_parity: "This recovery key has a typing error (parity check failed): check each character",
} satisfies Partial<Record<KeysErrorCode, string>>;

/** matrix-js-sdk's error messages (plain Errors) → codes. */
const SDK_RECOVERY_KEY_ERRORS = new Map<string, keyof typeof RECOVERY_KEY_ERRORS>([
    ["Incorrect parity", "recovery_key_wrong_parity"],
    ["Incorrect prefix", "recovery_key_wrong_prefix"],
    ["Incorrect length", "recovery_key_wrong_length"],
]);

function recoveryKeyError(code: keyof typeof RECOVERY_KEY_ERRORS, cause?: unknown): KeysError {
    return new KeysError(code, RECOVERY_KEY_ERRORS[code], { cause });
}

/**
 * A recovery key as people see it ("EsTc 1BzN …") → the 32-byte secret storage key. Whitespace is ignored (keys are
 * shown in groups and often pasted across lines). Error messages never include the key.
 */
export function decodeRecoveryKey(text: string): Uint8Array<ArrayBuffer> {
    const compact = text.replace(/\s+/g, "");
    if (!BASE58.test(compact)) throw recoveryKeyError("recovery_key_malformed");
    // Checked before the SDK, which tests parity first and would call a missing character a typing error.
    if (compact.length !== RECOVERY_KEY_CHARS) throw recoveryKeyError("recovery_key_wrong_length");
    try {
        return sdkDecodeRecoveryKey(compact);
    } catch (e) {
        throw recoveryKeyError(
            (e instanceof Error && SDK_RECOVERY_KEY_ERRORS.get(e.message)) || "recovery_key_malformed",
            e,
        );
    }
}

/** The 32-byte key → recovery key text in groups of four characters, as Element shows it. */
export function encodeRecoveryKey(key: Uint8Array): string {
    checkKey(key);
    // The SDK's result is undefined only for an empty key.
    return sdkEncodeRecoveryKey(key)!;
}
