/**
 * Reading Matrix secret storage (spec "Secret storage", algorithm `m.secret_storage.v1.aes-hmac-sha2`) with the raw
 * 32-byte key, and the recovery key text form of that key (spec appendix "Cryptographic key representation").
 * Pure functions over account-data contents; fetching them is the caller's job.
 */
import { decodeBase64, encodeUnpaddedBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import { constantTimeEqual, getSubtle, randomBytes, toBuffer } from "./webCrypto.ts";

export const SECRET_STORAGE_ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2";
/** Account data holding the id of the default key: `{ key: "<key id>" }`. */
export const DEFAULT_KEY_EVENT_TYPE = "m.secret_storage.default_key";
/** Secret names (also their account data types) the migration reads. */
export const BACKUP_SECRET_NAME = "m.megolm_backup.v1";

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
/**
 * HKDF salt. The spec says 32 zero bytes; matrix-js-sdk passes 8. HMAC pads short keys with zeros to its block
 * size, so both give the same keys.
 */
const ZERO_SALT = new Uint8Array(32);

function checkKey(key: Uint8Array): void {
    if (key.length !== KEY_LENGTH) {
        throw new KeysError("secret_storage_malformed", `A secret storage key has ${KEY_LENGTH} bytes, got ${key.length}`);
    }
}

/** HKDF-SHA-256(key, info = secret name) → AES-CTR key and HMAC-SHA-256 key. */
async function deriveSecretKeys(key: Uint8Array, name: string): Promise<{ aesKey: CryptoKey; macKey: CryptoKey }> {
    checkKey(key);
    const subtle = getSubtle();
    const hkdfKey = await subtle.importKey("raw", toBuffer(key), "HKDF", false, ["deriveBits"]);
    const bits = new Uint8Array(
        await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: ZERO_SALT, info: new TextEncoder().encode(name) }, hkdfKey, 512),
    );
    const [aesKey, macKey] = await Promise.all([
        subtle.importKey("raw", bits.subarray(0, 32), "AES-CTR", false, ["encrypt", "decrypt"]),
        subtle.importKey("raw", bits.subarray(32, 64), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
    ]);
    bits.fill(0);
    return { aesKey, macKey };
}

function decodeField(value: unknown, what: string): Uint8Array<ArrayBuffer> {
    if (typeof value !== "string") throw new KeysError("secret_storage_malformed", `Secret storage data has no ${what}`);
    try {
        return decodeBase64(value);
    } catch (e) {
        throw new KeysError("secret_storage_malformed", `Secret storage ${what} is not valid base64`, { cause: e });
    }
}

/**
 * Encrypts a secret (also used for the key check). A random IV has bit 63 cleared so that the 64-bit counter
 * cannot wrap, which some clients (Android) cannot handle.
 */
export async function encryptSecret(secret: string, key: Uint8Array, name: string, ivBase64?: string): Promise<EncryptedSecret> {
    let iv: Uint8Array<ArrayBuffer>;
    if (ivBase64 === undefined) {
        iv = randomBytes(16);
        iv[8] &= 0x7f;
    } else {
        iv = decodeField(ivBase64, "iv");
        if (iv.length !== 16) throw new KeysError("secret_storage_malformed", "A secret storage iv is not 16 bytes");
    }
    const { aesKey, macKey } = await deriveSecretKeys(key, name);
    const subtle = getSubtle();
    const ciphertext = await subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, aesKey, new TextEncoder().encode(secret));
    const mac = await subtle.sign("HMAC", macKey, ciphertext);
    return {
        iv: encodeUnpaddedBase64(iv),
        ciphertext: encodeUnpaddedBase64(new Uint8Array(ciphertext)),
        mac: encodeUnpaddedBase64(new Uint8Array(mac)),
    };
}

/** Decrypts one encrypted secret, refusing (before decrypting) when its MAC does not match. */
export async function decryptSecret(encrypted: EncryptedSecret, key: Uint8Array, name: string): Promise<string> {
    const iv = decodeField(encrypted?.iv, "iv");
    const ciphertext = decodeField(encrypted?.ciphertext, "ciphertext");
    const mac = decodeField(encrypted?.mac, "mac");
    if (iv.length !== 16) throw new KeysError("secret_storage_malformed", "A secret storage iv is not 16 bytes");
    const { aesKey, macKey } = await deriveSecretKeys(key, name);
    const subtle = getSubtle();
    if (!(await subtle.verify("HMAC", macKey, mac, ciphertext))) {
        throw new KeysError("secret_storage_bad_mac", `Secret ${JSON.stringify(name)} did not verify: wrong key, or the stored secret is damaged`);
    }
    const plaintext = await subtle.decrypt({ name: "AES-CTR", counter: iv, length: 64 }, aesKey, ciphertext);
    try {
        return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
    } catch (e) {
        throw new KeysError("secret_storage_malformed", `Secret ${JSON.stringify(name)} is not text`, { cause: e });
    }
}

/** The `iv` and `mac` a key description carries to check a key: 32 zero bytes encrypted with the name "". */
export async function calculateKeyCheck(key: Uint8Array, ivBase64?: string): Promise<{ iv: string; mac: string }> {
    const { iv, mac } = await encryptSecret("\0".repeat(32), key, "", ivBase64);
    return { iv, mac };
}

function checkAlgorithm(description: SecretStorageKeyDescription): void {
    if (description?.algorithm !== SECRET_STORAGE_ALGORITHM) {
        throw new KeysError(
            "secret_storage_unsupported_algorithm",
            `Unsupported secret storage key algorithm ${JSON.stringify(description?.algorithm)}; only ${SECRET_STORAGE_ALGORITHM} is known`,
        );
    }
}

/**
 * Is `key` the key this description was made for? Throws when the description cannot tell (no iv/mac, written by
 * very old clients): then only decrypting a secret, whose MAC is checked, can tell.
 */
export async function checkSecretStorageKey(key: Uint8Array, description: SecretStorageKeyDescription): Promise<boolean> {
    checkAlgorithm(description);
    checkKey(key);
    if (typeof description.iv !== "string" || typeof description.mac !== "string") {
        throw new KeysError("secret_storage_key_uncheckable", "This secret storage key description has no iv/mac to check a key against");
    }
    const expected = decodeField(description.mac, "mac");
    const { mac } = await calculateKeyCheck(key, description.iv);
    return constantTimeEqual(decodeBase64(mac), expected);
}

/** Reads secret `name` from its account data content, decrypting the copy made with key `keyId`. */
export async function readSecret(content: SecretAccountData, keyId: string, key: Uint8Array, name: string): Promise<string> {
    const encrypted = content?.encrypted?.[keyId];
    if (!encrypted) {
        throw new KeysError("secret_storage_secret_missing", `Secret ${JSON.stringify(name)} is not stored with key ${JSON.stringify(keyId)}`);
    }
    return decryptSecret(encrypted, key, name);
}

/** The key from a passphrase, as the description's `passphrase` (algorithm m.pbkdf2) says. */
export async function deriveKeyFromPassphrase(passphrase: string, info: PassphraseInfo): Promise<Uint8Array<ArrayBuffer>> {
    if (info?.algorithm !== "m.pbkdf2") {
        throw new KeysError("secret_storage_unsupported_algorithm", `Unsupported passphrase algorithm ${JSON.stringify(info?.algorithm)}`);
    }
    const bits = info.bits ?? 256;
    if (!Number.isInteger(info.iterations) || info.iterations < 1 || typeof info.salt !== "string" || bits !== 256) {
        throw new KeysError("secret_storage_malformed", "The key description's passphrase parameters are invalid");
    }
    const subtle = getSubtle();
    const baseKey = await subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveBits"]);
    // The salt is used as text, not base64-decoded (as every client does).
    const salt = new TextEncoder().encode(info.salt);
    return new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-512", salt, iterations: info.iterations }, baseKey, bits));
}

// ---- Recovery keys: base58 of 0x8B 0x01 | key | parity, where parity is the XOR of all previous bytes.

const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE58_VALUES = new Map<string, number>([...BASE58_ALPHABET].map((c, i) => [c, i]));
const RECOVERY_KEY_PREFIX = [0x8b, 0x01] as const;
const RECOVERY_KEY_BYTES = RECOVERY_KEY_PREFIX.length + KEY_LENGTH + 1;

/** Base58 (Bitcoin alphabet) → bytes; leading "1"s are leading zero bytes. */
function decodeBase58(text: string): Uint8Array | undefined {
    let zeros = 0;
    while (zeros < text.length && text[zeros] === "1") zeros++;
    // Little-endian base-256 digits of the number, grown as needed.
    const digits: number[] = [];
    for (const char of text.slice(zeros)) {
        let carry = BASE58_VALUES.get(char);
        if (carry === undefined) return undefined;
        for (let i = 0; i < digits.length; i++) {
            carry += digits[i]! * 58;
            digits[i] = carry & 0xff;
            carry >>= 8;
        }
        while (carry > 0) {
            digits.push(carry & 0xff);
            carry >>= 8;
        }
    }
    const out = new Uint8Array(zeros + digits.length);
    for (let i = 0; i < digits.length; i++) out[out.length - 1 - i] = digits[i]!;
    return out;
}

function encodeBase58(bytes: Uint8Array): string {
    let zeros = 0;
    while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
    // Little-endian base-58 digits.
    const digits: number[] = [];
    for (let i = zeros; i < bytes.length; i++) {
        let carry = bytes[i]!;
        for (let j = 0; j < digits.length; j++) {
            carry += digits[j]! << 8;
            digits[j] = carry % 58;
            carry = Math.floor(carry / 58);
        }
        while (carry > 0) {
            digits.push(carry % 58);
            carry = Math.floor(carry / 58);
        }
    }
    let out = "1".repeat(zeros);
    for (let i = digits.length - 1; i >= 0; i--) out += BASE58_ALPHABET[digits[i]!];
    return out;
}

/**
 * A recovery key as people see it ("EsTc 1BzN …") → the 32-byte secret storage key. Whitespace is ignored (keys are
 * shown in groups and often pasted across lines). Error messages never include the key.
 */
export function decodeRecoveryKey(text: string): Uint8Array<ArrayBuffer> {
    const compact = text.replace(/\s+/g, "");
    const bytes = compact === "" ? undefined : decodeBase58(compact);
    if (!bytes) {
        throw new KeysError("recovery_key_malformed", "This is not a recovery key: it may contain only letters and digits, without 0, O, I and l");
    }
    if (bytes.length !== RECOVERY_KEY_BYTES) {
        throw new KeysError("recovery_key_wrong_length", "This recovery key is too short or too long: check for missing or extra characters");
    }
    if (bytes[0] !== RECOVERY_KEY_PREFIX[0] || bytes[1] !== RECOVERY_KEY_PREFIX[1]) {
        throw new KeysError("recovery_key_wrong_prefix", "This is not a recovery key (wrong prefix): check that you copied the whole key");
    }
    let parity = 0;
    for (const b of bytes) parity ^= b;
    if (parity !== 0) {
        throw new KeysError("recovery_key_wrong_parity", "This recovery key has a typing error (parity check failed): check each character");
    }
    return bytes.slice(RECOVERY_KEY_PREFIX.length, RECOVERY_KEY_PREFIX.length + KEY_LENGTH);
}

/** The 32-byte key → recovery key text in groups of four characters, as Element shows it. */
export function encodeRecoveryKey(key: Uint8Array): string {
    checkKey(key);
    const bytes = new Uint8Array(RECOVERY_KEY_BYTES);
    bytes.set(RECOVERY_KEY_PREFIX, 0);
    bytes.set(key, RECOVERY_KEY_PREFIX.length);
    let parity = 0;
    for (let i = 0; i < bytes.length - 1; i++) parity ^= bytes[i]!;
    bytes[bytes.length - 1] = parity;
    return encodeBase58(bytes).match(/.{1,4}/g)!.join(" ");
}
