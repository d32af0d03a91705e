import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import type { ExportedRoomKey } from "./backupCrypto.ts";
import { decodeBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import { DEFAULT_KEY_FILE_ROUNDS, KEY_FILE_HEADER, KEY_FILE_TRAILER, encryptKeyFile } from "./keyFile.ts";
import { loadRustCrypto, makeExportedRoomKey } from "./testSupport.ts";

// The Rust library (Element's own reader and writer of key files) is the oracle.
const rust = await loadRustCrypto();
const { OlmMachine } = rust;

/** Fields every implementation keeps (the Rust library re-serialises and may rename others). */
function essentials(keys: ExportedRoomKey[]) {
    return keys.map((k) => [
        k.algorithm,
        k.room_id,
        k.session_id,
        k.session_key,
        k.sender_key,
        k.sender_claimed_keys,
        k.forwarding_curve25519_key_chain,
    ]);
}

function rustReads(file: string, passphrase: string) {
    return essentials(JSON.parse(OlmMachine.decryptExportedRoomKeys(file, passphrase)) as ExportedRoomKey[]);
}

function body(file: string): Uint8Array<ArrayBuffer> {
    const lines = file.split("\n");
    return decodeBase64(lines.slice(1, lines.indexOf(KEY_FILE_TRAILER)).join(""));
}

function repack(bytes: Uint8Array): string {
    return `${KEY_FILE_HEADER}\n${Buffer.from(bytes).toString("base64")}\n${KEY_FILE_TRAILER}\n`;
}

/**
 * The plaintext exactly as written (the Rust library gives back re-serialised JSON): the format read with Node's
 * own crypto, independent of the WebCrypto code under test. Only tests need to read key files.
 */
function decryptKeyFile(file: string, passphrase: string): string {
    const bytes = Buffer.from(body(file));
    const rounds = bytes.readUInt32BE(33);
    const keys = pbkdf2Sync(passphrase, bytes.subarray(1, 17), rounds, 64, "sha512");
    const mac = createHmac("sha256", keys.subarray(32)).update(bytes.subarray(0, -32)).digest();
    if (!timingSafeEqual(mac, bytes.subarray(-32))) throw new Error("Wrong passphrase or damaged file");
    const decipher = createDecipheriv("aes-256-ctr", keys.subarray(0, 32), bytes.subarray(17, 33));
    return Buffer.concat([decipher.update(bytes.subarray(37, -32)), decipher.final()]).toString("utf8");
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
    return promise.then(
        () => undefined,
        (e: unknown) => (e instanceof KeysError ? e.code : `not a KeysError: ${String(e)}`),
    );
}

const keys = [
    makeExportedRoomKey(),
    makeExportedRoomKey({ roomId: "!other:example.org", firstIndex: 12, forwardingChainLength: 1 }),
];

describe("Element key file", () => {
    it("writes files the Rust library decrypts, from JSON text and from a stream of keys", async () => {
        const fromText = await encryptKeyFile(JSON.stringify(keys), "pass phrase ✓", 10);
        expect(rustReads(fromText, "pass phrase ✓")).toEqual(essentials(keys));

        async function* stream() {
            for (const key of keys) yield key;
        }
        const fromStream = await encryptKeyFile(stream(), "pass phrase ✓", 10);
        expect(rustReads(fromStream, "pass phrase ✓")).toEqual(essentials(keys));
        expect(() => OlmMachine.decryptExportedRoomKeys(fromStream, "pass phrase")).toThrow();
    });

    it("the tests' own reader agrees with the Rust library, on its files and on ours", async () => {
        const rustFile = OlmMachine.encryptExportedRoomKeys(JSON.stringify(keys), "hunter2", 20);
        expect(essentials(JSON.parse(decryptKeyFile(rustFile, "hunter2")) as ExportedRoomKey[])).toEqual(
            essentials(keys),
        );
        const ours = await encryptKeyFile(keys, "hunter2", 20);
        expect(decryptKeyFile(ours, "hunter2")).toBe(JSON.stringify(keys));
    });

    it("writes files the Rust library refuses with a wrong passphrase or a damaged body", async () => {
        const file = await encryptKeyFile(JSON.stringify(keys), "hunter2", 20);
        expect(() => OlmMachine.decryptExportedRoomKeys(file, "hunter3")).toThrow();
        for (const at of [0, 20, 36, 60, body(file).length - 1]) {
            const damaged = body(file);
            damaged[at]! ^= 0x01;
            expect(() => OlmMachine.decryptExportedRoomKeys(repack(damaged), "hunter2")).toThrow();
        }
        expect(rustReads(repack(body(file)), "hunter2")).toEqual(essentials(keys));
    });

    it("refuses to write without a passphrase or with impossible rounds", async () => {
        expect(await codeOf(encryptKeyFile("[]", ""))).toBe("key_file_bad_argument");
        expect(await codeOf(encryptKeyFile("[]", "pw", 0))).toBe("key_file_bad_argument");
        expect(await codeOf(encryptKeyFile("[]", "pw", 2 ** 32))).toBe("key_file_bad_argument");
    });

    it("uses Element's layout: header, 96-character lines, rounds, IV with bit 63 cleared", async () => {
        const big = Array.from({ length: 4 }, () => keys).flat();
        for (let i = 0; i < 16; i++) {
            const file = await encryptKeyFile(JSON.stringify(big), "pw", 1000 + i);
            const lines = file.split("\n");
            expect(lines[0]).toBe(KEY_FILE_HEADER);
            expect(lines.at(-2)).toBe(KEY_FILE_TRAILER);
            expect(lines.at(-1)).toBe("");
            const content = lines.slice(1, -2);
            expect(content.length).toBeGreaterThan(2);
            for (const line of content.slice(0, -1)) expect(line).toHaveLength(96);
            const bytes = body(file);
            expect(bytes[0]).toBe(1);
            expect(bytes[1 + 16 + 8]! & 0x80).toBe(0);
            expect(new DataView(bytes.buffer).getUint32(33, false)).toBe(1000 + i);
        }
    });

    it("defaults to 500000 rounds, which the Rust library reads", async () => {
        expect(DEFAULT_KEY_FILE_ROUNDS).toBe(500000);
        const file = await encryptKeyFile(JSON.stringify(keys), "pw");
        expect(new DataView(body(file).buffer).getUint32(33, false)).toBe(500000);
        expect(rustReads(file, "pw")).toEqual(essentials(keys));
    });

    it("encrypts a stream of several megabytes in chunks that decrypt as one (counter continuity)", async () => {
        // Multi-byte characters keep chunk boundaries off the AES block grid.
        const count = 6000;
        const expected: ExportedRoomKey[] = [];
        async function* stream() {
            for (let i = 0; i < count; i++) {
                const key = { ...keys[i % 2]!, room_id: `!rööm${i}:example.org`, session_id: `session ${i} ✓` };
                expected.push(key);
                yield key;
            }
        }
        const file = await encryptKeyFile(stream(), "pw", 5);
        expect(body(file).length).toBeGreaterThan(3 * (1 << 20));
        expect(decryptKeyFile(file, "pw")).toBe(JSON.stringify(expected));
        expect(rustReads(file, "pw")).toEqual(essentials(expected));
    });
});
