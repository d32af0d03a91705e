/**
 * Hand-written: the one library writing key files (7.8 MB Rust crypto WASM) takes all keys as one string; this streams.
 *
 * Element's encrypted room key export ("Export E2E room keys" / "Import E2E room keys"):
 *
 *   PBKDF2-HMAC-SHA-512(passphrase, salt, rounds) → 64 bytes: AES-256-CTR key | HMAC-SHA-256 key
 *   body = 0x01 | salt (16) | iv (16, bit 63 cleared) | rounds (u32 BE) | ciphertext | HMAC-SHA-256(all before it)
 *   file = "-----BEGIN MEGOLM SESSION DATA-----", base64(body) in lines of 96 characters, "-----END …-----"
 *
 * The plaintext is the JSON array of exported room keys. Only the writer is here; the tests hold a reader.
 */
import { encodeBase64Lines } from "./base64.ts";
import type { ExportedRoomKey } from "./backupCrypto.ts";
import { KeysError } from "./errors.ts";
import { getSubtle, randomBytes } from "./webCrypto.ts";

export const KEY_FILE_HEADER = "-----BEGIN MEGOLM SESSION DATA-----";
export const KEY_FILE_TRAILER = "-----END MEGOLM SESSION DATA-----";
/** Element's choice; high because the file may sit in a downloads folder for years. */
export const DEFAULT_KEY_FILE_ROUNDS = 500000;

const VERSION = 1;
const SALT_LENGTH = 16;
const IV_LENGTH = 16;
const HEADER_LENGTH = 1 + SALT_LENGTH + IV_LENGTH + 4;
const MAC_LENGTH = 32;
/** Characters per base64 line, as Element writes (72 bytes). */
const LINE_CHARS = 96;
/** Plaintext is encrypted in chunks of this size (a multiple of the AES block) while it is being produced. */
const CHUNK_BYTES = 1 << 20;

async function deriveFileKeys(passphrase: string, salt: Uint8Array<ArrayBuffer>, rounds: number) {
    const subtle = getSubtle();
    const baseKey = await subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, [
        "deriveBits",
    ]);
    const bits = new Uint8Array(
        await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-512", salt, iterations: rounds }, baseKey, 512),
    );
    const [aesKey, macKey] = await Promise.all([
        subtle.importKey("raw", bits.subarray(0, 32), "AES-CTR", false, ["encrypt"]),
        subtle.importKey("raw", bits.subarray(32, 64), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
    ]);
    bits.fill(0);
    return { aesKey, macKey };
}

/**
 * The counter block for the AES block at `blockOffset` from the start: the IV's low 64 bits plus the offset, mod
 * 2^64. WebCrypto's AES-CTR with `length: 64` counts the same way, so chunks can be encrypted separately.
 */
function counterAt(iv: Uint8Array, blockOffset: number): Uint8Array<ArrayBuffer> {
    const counter = new Uint8Array(iv);
    let carry = blockOffset;
    for (let i = 15; i >= 8 && carry > 0; i--) {
        const sum = counter[i]! + (carry % 256);
        counter[i] = sum & 0xff;
        carry = Math.floor(carry / 256) + (sum >> 8);
    }
    return counter;
}

/** The JSON array, produced piece by piece so a stream of keys is never held as one big string. */
async function* jsonPieces(
    sessions: AsyncIterable<ExportedRoomKey> | Iterable<ExportedRoomKey>,
): AsyncGenerator<string> {
    yield "[";
    let first = true;
    for await (const session of sessions) {
        yield (first ? "" : ",") + JSON.stringify(session);
        first = false;
    }
    yield "]";
}

/**
 * Encrypts room keys into an Element key file. `sessions` is either the JSON text of the key array (as
 * `exportRoomKeysAsJson()` gives it) or a stream of keys, serialised and encrypted as they arrive.
 */
export async function encryptKeyFile(
    sessions: string | AsyncIterable<ExportedRoomKey> | Iterable<ExportedRoomKey>,
    passphrase: string,
    rounds: number = DEFAULT_KEY_FILE_ROUNDS,
): Promise<string> {
    if (typeof passphrase !== "string" || passphrase === "") {
        throw new KeysError("key_file_bad_argument", "A key file needs a passphrase");
    }
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 0xffffffff) {
        throw new KeysError("key_file_bad_argument", "Key file rounds must be an integer from 1 to 2^32-1");
    }
    const salt = randomBytes(SALT_LENGTH);
    const iv = randomBytes(IV_LENGTH);
    // Bit 63 cleared: the 64-bit counter then cannot wrap, which some importers (Android) cannot handle.
    iv[8] &= 0x7f;
    // PBKDF2 dominates; it runs off the main thread while the JSON is produced.
    const keys = deriveFileKeys(passphrase, salt, rounds);
    keys.catch(() => {}); // Awaited below; this only stops an "unhandled rejection" while the input is read.

    const subtle = getSubtle();
    const encoder = new TextEncoder();
    const cipherChunks: Uint8Array[] = [];
    let encryptedBytes = 0;
    const encryptChunk = async (plain: Uint8Array<ArrayBuffer>) => {
        const { aesKey } = await keys;
        const counter = counterAt(iv, encryptedBytes / 16);
        cipherChunks.push(
            new Uint8Array(await subtle.encrypt({ name: "AES-CTR", counter, length: 64 }, aesKey, plain)),
        );
        encryptedBytes += plain.length;
    };

    if (typeof sessions === "string") {
        const plain = encoder.encode(sessions);
        for (let offset = 0; offset < plain.length; offset += CHUNK_BYTES) {
            await encryptChunk(plain.subarray(offset, offset + CHUNK_BYTES));
        }
    } else {
        let pending: string[] = [];
        let pendingLength = 0;
        let carry = new Uint8Array(0);
        // Encrypts whole AES blocks of what has accumulated and keeps the remainder for the next chunk.
        const flush = async (final: boolean) => {
            const encoded = encoder.encode(pending.join(""));
            pending = [];
            pendingLength = 0;
            const plain = new Uint8Array(carry.length + encoded.length);
            plain.set(carry, 0);
            plain.set(encoded, carry.length);
            const whole = final ? plain.length : plain.length - (plain.length % 16);
            carry = plain.slice(whole);
            if (whole > 0) await encryptChunk(plain.subarray(0, whole));
        };
        for await (const piece of jsonPieces(sessions)) {
            pending.push(piece);
            pendingLength += piece.length;
            if (pendingLength >= CHUNK_BYTES) await flush(false);
        }
        await flush(true);
    }

    const { macKey } = await keys;
    const body = new Uint8Array(HEADER_LENGTH + encryptedBytes + MAC_LENGTH);
    body[0] = VERSION;
    body.set(salt, 1);
    body.set(iv, 1 + SALT_LENGTH);
    new DataView(body.buffer).setUint32(1 + SALT_LENGTH + IV_LENGTH, rounds, false);
    let offset = HEADER_LENGTH;
    // Each chunk is dropped once copied, so the ciphertext is not held twice for long.
    for (let chunk = cipherChunks.shift(); chunk; chunk = cipherChunks.shift()) {
        body.set(chunk, offset);
        offset += chunk.length;
    }
    const mac = await subtle.sign("HMAC", macKey, body.subarray(0, offset));
    body.set(new Uint8Array(mac), offset);

    return `${KEY_FILE_HEADER}\n${encodeBase64Lines(body, LINE_CHARS)}\n${KEY_FILE_TRAILER}\n`;
}
