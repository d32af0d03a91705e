import { describe, expect, it } from "@jest/globals";
import type { ExportedRoomKey } from "./backupCrypto.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import { DEFAULT_KEY_FILE_ROUNDS, KEY_FILE_HEADER, KEY_FILE_TRAILER, decryptKeyFile, encryptKeyFile, readKeyFile } from "./keyFile.ts";
import { loadRustCrypto, makeExportedRoomKey } from "./testSupport.ts";

const rust = await loadRustCrypto();
const { OlmMachine } = rust;

/** Fields every implementation keeps (the Rust library re-serialises and may rename others). */
function essentials(keys: ExportedRoomKey[]) {
    return keys.map((k) => [k.algorithm, k.room_id, k.session_id, k.session_key, k.sender_key, k.sender_claimed_keys, k.forwarding_curve25519_key_chain]);
}

function body(file: string): Uint8Array<ArrayBuffer> {
    const lines = file.split("\n");
    return decodeBase64(lines.slice(1, lines.indexOf(KEY_FILE_TRAILER)).join(""));
}

function repack(bytes: Uint8Array): string {
    return `${KEY_FILE_HEADER}\n${encodeBase64(bytes)}\n${KEY_FILE_TRAILER}\n`;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
    return promise.then(
        () => undefined,
        (e: unknown) => (e instanceof KeysError ? e.code : `not a KeysError: ${String(e)}`),
    );
}

const keys = [makeExportedRoomKey(), makeExportedRoomKey({ roomId: "!other:example.org", firstIndex: 12, forwardingChainLength: 1 })];

describe("Element key file", () => {
    it("writes files the Rust library decrypts, from JSON text and from a stream of keys", async () => {
        const fromText = await encryptKeyFile(JSON.stringify(keys), "pass phrase ✓", 10);
        expect(essentials(JSON.parse(OlmMachine.decryptExportedRoomKeys(fromText, "pass phrase ✓")) as ExportedRoomKey[])).toEqual(essentials(keys));

        async function* stream() {
            for (const key of keys) yield key;
        }
        const fromStream = await encryptKeyFile(stream(), "pass phrase ✓", 10);
        expect(essentials(JSON.parse(OlmMachine.decryptExportedRoomKeys(fromStream, "pass phrase ✓")) as ExportedRoomKey[])).toEqual(essentials(keys));
        expect(() => OlmMachine.decryptExportedRoomKeys(fromStream, "pass phrase")).toThrow();
    });

    it("reads files the Rust library wrote", async () => {
        const file = OlmMachine.encryptExportedRoomKeys(JSON.stringify(keys), "hunter2", 20);
        expect(essentials(await readKeyFile(file, "hunter2"))).toEqual(essentials(keys));
        expect(JSON.parse(await decryptKeyFile(file, "hunter2"))).toHaveLength(2);
        // Files that went through Windows or an e-mail client.
        const ours = await encryptKeyFile(keys, "hunter2", 20);
        expect(essentials(await readKeyFile(`\r\n${ours.replace(/\n/g, "\r\n")}  `, "hunter2"))).toEqual(essentials(keys));
    });

    it("says 'wrong passphrase or damaged file' for a wrong passphrase or a damaged body", async () => {
        const rustFile = OlmMachine.encryptExportedRoomKeys(JSON.stringify(keys), "hunter2", 20);
        const ourFile = await encryptKeyFile(JSON.stringify(keys), "hunter2", 20);
        for (const file of [rustFile, ourFile]) {
            const error = await decryptKeyFile(file, "hunter3").catch((e: unknown) => e);
            expect(error).toBeInstanceOf(KeysError);
            expect((error as KeysError).code).toBe("key_file_wrong_passphrase");
            expect((error as Error).message).toMatch(/wrong passphrase or damaged file/i);
            const damaged = body(file);
            damaged[60]! ^= 0x01;
            expect(await codeOf(decryptKeyFile(repack(damaged), "hunter2"))).toBe("key_file_wrong_passphrase");
        }
    });

    it("explains files that are not key files or that it cannot read", async () => {
        const file = await encryptKeyFile(JSON.stringify(keys), "pw", 5);
        expect(await codeOf(decryptKeyFile("hello", "pw"))).toBe("key_file_malformed");
        expect(await codeOf(decryptKeyFile(file.slice(0, file.indexOf(KEY_FILE_TRAILER)), "pw"))).toBe("key_file_malformed");
        expect(await codeOf(decryptKeyFile(`${KEY_FILE_HEADER}\n%%%%\n${KEY_FILE_TRAILER}`, "pw"))).toBe("key_file_malformed");
        expect(await codeOf(decryptKeyFile(repack(body(file).subarray(0, 60)), "pw"))).toBe("key_file_malformed");
        const version2 = body(file);
        version2[0] = 2;
        expect(await codeOf(decryptKeyFile(repack(version2), "pw"))).toBe("key_file_unsupported_version");
        expect(await codeOf(encryptKeyFile("[]", ""))).toBe("key_file_bad_argument");
        expect(await codeOf(encryptKeyFile("[]", "pw", 0))).toBe("key_file_bad_argument");
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
        expect(essentials(JSON.parse(OlmMachine.decryptExportedRoomKeys(file, "pw")) as ExportedRoomKey[])).toEqual(essentials(keys));
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
        expect(await decryptKeyFile(file, "pw")).toBe(JSON.stringify(expected));
        expect(essentials(JSON.parse(OlmMachine.decryptExportedRoomKeys(file, "pw")) as ExportedRoomKey[])).toEqual(essentials(expected));
    });
});
