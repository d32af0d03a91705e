/**
 * Hand-written: no library encrypts to any backup key in a browser without the 7.8 MB Rust crypto WASM (tested vs it).
 *
 * Server-side key backup, algorithm `m.megolm_backup.v1.curve25519-aes-sha2` (Matrix spec, "Server-side key
 * backups"): encrypting room keys to a backup's public key, and decrypting entries with its private key.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { decodeBase64, encodeUnpaddedBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import { constantTimeEqual, getSubtle, toBuffer } from "./webCrypto.ts";
import { decodeKey, getX25519, type X25519, type X25519PrivateKey, type X25519PublicKey } from "./x25519.ts";

export const MEGOLM_BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";

/** One room key as matrix-js-sdk's `exportRoomKeys()` (and Element's key file) gives it. */
export interface ExportedRoomKey {
    "room_id": string;
    "session_id": string;
    "session_key": string;
    "sender_key": string;
    "sender_claimed_keys": Record<string, string>;
    "forwarding_curve25519_key_chain": string[];
    "algorithm": string;
    "shared_history"?: boolean;
    "org.matrix.msc3061.shared_history"?: boolean;
    /** Fields we do not know are carried through unchanged. */
    [field: string]: unknown;
}

/** The decrypted `session_data` of a backup entry: the exported key without `room_id` and `session_id`. */
export interface BackedUpRoomKey {
    algorithm: string;
    sender_key: string;
    session_key: string;
    sender_claimed_keys: Record<string, string>;
    forwarding_curve25519_key_chain: string[];
    [field: string]: unknown;
}

/** The encrypted `session_data` of a backup entry; all fields unpadded base64. */
export interface EncryptedSessionData {
    ephemeral: string;
    ciphertext: string;
    mac: string;
}

/** One backup entry (the spec's `KeyBackupData`). */
export interface BackupSessionData {
    first_message_index: number;
    forwarded_count: number;
    is_verified: boolean;
    session_data: EncryptedSessionData;
}

/** Body of `PUT /_matrix/client/v3/room_keys/keys?version=V`. */
export interface RoomKeysBody {
    rooms: Record<string, { sessions: Record<string, BackupSessionData> }>;
}

const ZERO_SALT = new Uint8Array(32);
const EMPTY = new Uint8Array(0);
/** Backup entries carry a MAC truncated to 8 bytes (libolm's format, kept by the spec). */
const MAC_LENGTH = 8;

/**
 * The index of the first message the session key can decrypt: a big-endian u32 after the version byte, in both the
 * exported (version 1) and the shared (version 2) session key formats.
 */
export function firstMessageIndex(sessionKey: string): number {
    let bytes: Uint8Array;
    try {
        bytes = decodeBase64(sessionKey);
    } catch (e) {
        throw new KeysError("backup_malformed", "A session_key is not valid base64", { cause: e });
    }
    if (bytes.length < 5) throw new KeysError("backup_malformed", "A session_key is too short to hold a message index");
    return ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;
}

/**
 * The 80 bytes of HKDF output split as the spec says: AES key, MAC key, IV. HKDF and the MAC run in JS
 * (@noble/hashes): a few microseconds each, where WebCrypto's round trips per session cost more than the hashing
 * (measured in bench/keys.ts; only AES and X25519 stay in WebCrypto).
 */
async function deriveBackupKeys(sharedSecret: Uint8Array<ArrayBuffer>, usage: "encrypt" | "decrypt") {
    const bits = hkdf(sha256, sharedSecret, ZERO_SALT, EMPTY, 80);
    const aesKey = await getSubtle().importKey("raw", toBuffer(bits.subarray(0, 32)), "AES-CBC", false, [usage]);
    return { aesKey, macKey: bits.subarray(32, 64), iv: toBuffer(bits.subarray(64, 80)) };
}

/** HMAC over the empty message, not the ciphertext: libolm's quirk, which every implementation must reproduce. */
function backupMac(macKey: Uint8Array): Uint8Array {
    return hmac(sha256, macKey, EMPTY).subarray(0, MAC_LENGTH);
}

/**
 * Why a room key cannot be backed up (no ids, a session key that is not one), or undefined when it can. Keys come
 * from the old session and from the old backup, whose entries anyone who knows its public key (the server) can write:
 * one such key must be counted as unreadable, not stop every other key from moving.
 */
export function roomKeyProblem(session: ExportedRoomKey): string | undefined {
    try {
        checkExportedRoomKey(session);
        firstMessageIndex(session.session_key);
        return undefined;
    } catch (e) {
        return e instanceof Error ? e.message : String(e);
    }
}

function checkExportedRoomKey(session: ExportedRoomKey): void {
    if (typeof session !== "object" || session === null)
        throw new KeysError("backup_malformed", "A room key to back up is not an object");
    for (const field of ["room_id", "session_id", "session_key"] as const) {
        if (typeof session[field] !== "string" || session[field] === "") {
            throw new KeysError("backup_malformed", `A room key to back up has no ${field}`);
        }
    }
}

/**
 * Encrypts room keys to one backup. The backup's public key is imported once, so encrypting many sessions costs one
 * ephemeral key pair and one key agreement each.
 */
export class BackupEncryptor {
    private constructor(
        private readonly x25519: X25519,
        private readonly backupKey: X25519PublicKey,
        /** The backup's public key as given (auth_data.public_key). */
        public readonly publicKeyBase64: string,
    ) {}

    /** `x25519` forces an implementation (tests); by default the platform's is detected. */
    static async create(backupPublicKeyBase64: string, options: { x25519?: X25519 } = {}): Promise<BackupEncryptor> {
        const x25519 = options.x25519 ?? (await getX25519());
        const backupKey = await x25519.importPublicKey(decodeKey(backupPublicKeyBase64, "public"));
        return new BackupEncryptor(x25519, backupKey, backupPublicKeyBase64);
    }

    get implementation(): X25519["implementation"] {
        return this.x25519.implementation;
    }

    async encrypt(session: ExportedRoomKey): Promise<BackupSessionData> {
        checkExportedRoomKey(session);
        const { room_id: _roomId, session_id: _sessionId, ...backedUp } = session;
        const plaintext = new TextEncoder().encode(JSON.stringify(backedUp));
        const firstIndex = firstMessageIndex(session.session_key);

        const { ephemeralPublic, sharedSecret } = await this.x25519.ephemeralAgreement(this.backupKey);
        const { aesKey, macKey, iv } = await deriveBackupKeys(sharedSecret, "encrypt");
        sharedSecret.fill(0);
        const ciphertext = await getSubtle().encrypt({ name: "AES-CBC", iv }, aesKey, plaintext);
        const mac = backupMac(macKey);
        return {
            first_message_index: firstIndex,
            forwarded_count: Array.isArray(session.forwarding_curve25519_key_chain)
                ? session.forwarding_curve25519_key_chain.length
                : 0,
            // The module cannot vouch for the sender's device; the server prefers verified copies anyway.
            is_verified: false,
            session_data: {
                ephemeral: encodeUnpaddedBase64(ephemeralPublic),
                ciphertext: encodeUnpaddedBase64(new Uint8Array(ciphertext)),
                mac: encodeUnpaddedBase64(mac),
            },
        };
    }
}

/** Encrypts one room key for the backup whose public key (unpadded base64) is given. */
export async function encryptForBackup(
    session: ExportedRoomKey,
    backupPublicKeyBase64: string,
): Promise<BackupSessionData> {
    return (await BackupEncryptor.create(backupPublicKeyBase64)).encrypt(session);
}

function readSessionData(sessionData: unknown): {
    ephemeral: Uint8Array;
    ciphertext: Uint8Array<ArrayBuffer>;
    mac: Uint8Array;
} {
    const data = sessionData as Partial<Record<keyof EncryptedSessionData, unknown>> | null;
    if (typeof data !== "object" || data === null)
        throw new KeysError("backup_malformed", "A backup entry has no session_data");
    const field = (name: keyof EncryptedSessionData) => {
        const value = data[name];
        if (typeof value !== "string")
            throw new KeysError("backup_malformed", `A backup entry's session_data has no ${name}`);
        try {
            return decodeBase64(value);
        } catch (e) {
            throw new KeysError("backup_malformed", `A backup entry's ${name} is not valid base64`, { cause: e });
        }
    };
    const out = { ephemeral: field("ephemeral"), ciphertext: field("ciphertext"), mac: field("mac") };
    if (out.ephemeral.length !== 32)
        throw new KeysError("backup_malformed", "A backup entry's ephemeral key is not 32 bytes");
    if (out.mac.length !== MAC_LENGTH)
        throw new KeysError("backup_malformed", `A backup entry's MAC is not ${MAC_LENGTH} bytes`);
    return out;
}

/** Decrypts entries of one backup with its private key, imported once. */
export class BackupDecryptor {
    private constructor(
        private readonly x25519: X25519,
        private readonly privateKey: X25519PrivateKey,
    ) {}

    static async create(backupPrivateKey: Uint8Array, options: { x25519?: X25519 } = {}): Promise<BackupDecryptor> {
        const x25519 = options.x25519 ?? (await getX25519());
        return new BackupDecryptor(x25519, await x25519.importPrivateKey(backupPrivateKey));
    }

    /** The `session_data` of a backup entry → the room key, after checking the MAC. */
    async decrypt(sessionData: EncryptedSessionData): Promise<BackedUpRoomKey> {
        const { ephemeral, ciphertext, mac } = readSessionData(sessionData);
        const sharedSecret = await this.x25519.agree(this.privateKey, ephemeral);
        const { aesKey, macKey, iv } = await deriveBackupKeys(sharedSecret, "decrypt");
        sharedSecret.fill(0);
        // As libolm and vodozemac do: refuse before decrypting when the MAC (over the empty message) differs.
        if (!constantTimeEqual(backupMac(macKey), mac)) {
            throw new KeysError(
                "backup_bad_mac",
                "Backup entry MAC mismatch: the backup key is not the one this entry was encrypted for, or the entry is damaged",
            );
        }
        let plaintext: string;
        try {
            const bytes = await getSubtle().decrypt({ name: "AES-CBC", iv }, aesKey, ciphertext);
            plaintext = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        } catch (e) {
            // The MAC does not cover the ciphertext, so a damaged ciphertext shows up only here.
            throw new KeysError(
                "backup_undecryptable",
                "A backup entry could not be decrypted: its ciphertext is damaged",
                { cause: e },
            );
        }
        let parsed: unknown;
        try {
            parsed = JSON.parse(plaintext);
        } catch (e) {
            throw new KeysError("backup_undecryptable", "A backup entry decrypted to something that is not JSON", {
                cause: e,
            });
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw new KeysError("backup_undecryptable", "A backup entry decrypted to something that is not a room key");
        }
        return parsed as BackedUpRoomKey;
    }
}

/** Decrypts one backup entry's `session_data` with the backup's 32-byte private key. */
export async function decryptFromBackup(
    sessionData: EncryptedSessionData,
    backupPrivateKey: Uint8Array,
): Promise<BackedUpRoomKey> {
    return (await BackupDecryptor.create(backupPrivateKey)).decrypt(sessionData);
}

/** The backup public key (unpadded base64, as in auth_data.public_key) belonging to a private key. */
export async function backupPublicKeyFromPrivate(
    privateKey: Uint8Array,
    options: { x25519?: X25519 } = {},
): Promise<string> {
    const x25519 = options.x25519 ?? (await getX25519());
    return encodeUnpaddedBase64(await x25519.publicKeyFromPrivate(privateKey));
}

/**
 * The trust check: does this private key (e.g. from secret storage) belong to the backup whose auth_data.public_key
 * the server presents? Compared as bytes, so padded and unpadded base64 both work.
 */
export async function isBackupPrivateKeyFor(privateKey: Uint8Array, publicKeyBase64: string): Promise<boolean> {
    let presented: Uint8Array;
    try {
        presented = decodeKey(publicKeyBase64, "public");
    } catch {
        return false;
    }
    return constantTimeEqual(decodeBase64(await backupPublicKeyFromPrivate(privateKey)), presented);
}

/** The `m.megolm_backup.v1` secret (base64 of the private key, as secret storage holds it) → 32 bytes. */
export function backupPrivateKeyFromSecret(secret: string): Uint8Array<ArrayBuffer> {
    return decodeKey(secret, "private");
}

/** A decrypted backup entry back in export form, to re-encrypt it to another backup. */
export function exportedRoomKeyFromBackup(roomId: string, sessionId: string, key: BackedUpRoomKey): ExportedRoomKey {
    return { ...key, room_id: roomId, session_id: sessionId };
}

/** The server's rule for duplicates: verified first, then the lower first index, then fewer forwards. */
function isBetter(a: BackupSessionData, b: BackupSessionData): boolean {
    if (a.is_verified !== b.is_verified) return a.is_verified;
    if (a.first_message_index !== b.first_message_index) return a.first_message_index < b.first_message_index;
    return a.forwarded_count < b.forwarded_count;
}

export interface BackupBatch {
    body: RoomKeysBody;
    /** Distinct sessions in `body`. */
    sessionCount: number;
}

/**
 * Encrypts a stream of room keys into upload bodies of at most `batchSize` sessions, pulling from the source only as
 * fast as the consumer takes batches, so memory stays flat however many keys there are. `concurrency` encryptions
 * run at once within a batch (WebCrypto works off the main thread in Node and browsers).
 */
export async function* backupBatches(
    sessions: AsyncIterable<ExportedRoomKey> | Iterable<ExportedRoomKey>,
    encryptor: BackupEncryptor,
    options: { batchSize?: number; concurrency?: number } = {},
): AsyncGenerator<BackupBatch, void, undefined> {
    const batchSize = options.batchSize ?? 500;
    const concurrency = options.concurrency ?? 16;
    if (!(batchSize >= 1) || !(concurrency >= 1)) throw new RangeError("batchSize and concurrency must be at least 1");

    const encryptBatch = async (pending: ExportedRoomKey[]): Promise<BackupBatch> => {
        const results: BackupSessionData[] = new Array(pending.length);
        let next = 0;
        const worker = async () => {
            while (next < pending.length) {
                const i = next++;
                results[i] = await encryptor.encrypt(pending[i]!);
            }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
        const body: RoomKeysBody = { rooms: {} };
        let sessionCount = 0;
        for (let i = 0; i < pending.length; i++) {
            const { room_id: roomId, session_id: sessionId } = pending[i]!;
            const room = (body.rooms[roomId] ??= { sessions: {} });
            const existing = room.sessions[sessionId];
            if (!existing) sessionCount++;
            if (!existing || isBetter(results[i]!, existing)) room.sessions[sessionId] = results[i]!;
        }
        return { body, sessionCount };
    };

    let pending: ExportedRoomKey[] = [];
    for await (const session of sessions) {
        pending.push(session);
        if (pending.length >= batchSize) {
            const batch = await encryptBatch(pending);
            pending = [];
            yield batch;
        }
    }
    if (pending.length > 0) yield await encryptBatch(pending);
}
