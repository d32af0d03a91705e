import { describe, expect, it } from "@jest/globals";
import {
    BackupDecryptor,
    BackupEncryptor,
    backupBatches,
    backupPrivateKeyFromSecret,
    backupPublicKeyFromPrivate,
    decryptFromBackup,
    encryptForBackup,
    exportedRoomKeyFromBackup,
    firstMessageIndex,
    isBackupPrivateKeyFor,
    type BackupSessionData,
    type ExportedRoomKey,
} from "./backupCrypto.ts";
import { decodeBase64, encodeBase64, encodeUnpaddedBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import { loadRustCrypto, makeExportedRoomKey, makeOlmMachine } from "./testSupport.ts";
import { getX25519, nobleX25519, selectX25519, webCryptoX25519, type X25519 } from "./x25519.ts";

const rust = await loadRustCrypto();

/** What the backup must hold for a key: everything but room_id and session_id. */
function withoutIds(key: ExportedRoomKey): Record<string, unknown> {
    const { room_id: _r, session_id: _s, ...rest } = key;
    return rest;
}

function flipByte(base64: string, index: number): string {
    const bytes = decodeBase64(base64);
    bytes[index]! ^= 0x01;
    return encodeUnpaddedBase64(bytes);
}

async function expectKeysError(promise: Promise<unknown>, code: KeysError["code"]): Promise<KeysError> {
    const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeysError);
    expect((error as KeysError).code).toBe(code);
    return error as KeysError;
}

const implementations: [string, () => Promise<X25519>][] = [
    ["WebCrypto", async () => webCryptoX25519()],
    ["noble fallback", nobleX25519],
];

describe.each(implementations)("backup crypto with X25519 from %s", (_name, makeX25519) => {
    it("encrypts entries that the Rust library decrypts, keeping unknown fields", async () => {
        const x25519 = await makeX25519();
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const encryptor = await BackupEncryptor.create(backupKey.megolmV1PublicKey.publicKeyBase64, { x25519 });
        expect(encryptor.implementation).toBe(x25519.implementation);
        const keys = [
            makeExportedRoomKey({ firstIndex: 0 }),
            makeExportedRoomKey({ firstIndex: 0x89abcdef, forwardingChainLength: 2, extra: { shared_history: true } }),
            makeExportedRoomKey({
                firstIndex: 42,
                extra: { "org.matrix.msc3061.shared_history": false, "com.example.unknown": { nested: [1, "two"] } },
            }),
        ];
        for (const key of keys) {
            const entry = await encryptor.encrypt(key);
            expect(entry.first_message_index).toBe(firstMessageIndex(key.session_key));
            expect(entry.forwarded_count).toBe(key.forwarding_curve25519_key_chain.length);
            expect(entry.is_verified).toBe(false);
            const { ephemeral, mac, ciphertext } = entry.session_data;
            expect(JSON.parse(backupKey.decryptV1(ephemeral, mac, ciphertext))).toEqual(withoutIds(key));
        }
        expect((await encryptor.encrypt(keys[1]!)).first_message_index).toBe(0x89abcdef);
    });

    it("decrypts entries that the Rust library's OlmMachine wrote to a backup", async () => {
        const x25519 = await makeX25519();
        const machine = await makeOlmMachine();
        // One session made by the machine itself, two imported with a non-zero first index.
        const roomId = new rust.RoomId("!own:example.org");
        await machine.shareRoomKey(roomId, [new rust.UserId("@alice:example.org")], new rust.EncryptionSettings());
        const imported = [
            makeExportedRoomKey({ firstIndex: 7 }),
            makeExportedRoomKey({ roomId: "!other:example.org", firstIndex: 1234567 }),
        ];
        await machine.importExportedRoomKeys(JSON.stringify(imported), () => {});
        const exported = JSON.parse(await machine.exportRoomKeys(() => true)) as ExportedRoomKey[];
        expect(exported).toHaveLength(3);

        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        await machine.enableBackupV1(backupKey.megolmV1PublicKey.publicKeyBase64, "1");
        const request = await machine.backupRoomKeys();
        if (!request) throw new Error("the OlmMachine made no backup request");
        const body = JSON.parse(request.body) as {
            rooms: Record<string, { sessions: Record<string, BackupSessionData> }>;
        };

        const decryptor = await BackupDecryptor.create(decodeBase64(backupKey.toBase64()), { x25519 });
        const ours = await BackupEncryptor.create(backupKey.megolmV1PublicKey.publicKeyBase64, { x25519 });
        let seen = 0;
        for (const key of exported) {
            const entry = body.rooms[key.room_id]!.sessions[key.session_id]!;
            expect(await decryptor.decrypt(entry.session_data)).toEqual(withoutIds(key));
            // Our reading of the session key's index agrees with Rust's.
            expect((await ours.encrypt(key)).first_message_index).toBe(entry.first_message_index);
            seen++;
        }
        expect(seen).toBe(3);
        expect(body.rooms["!other:example.org"]!.sessions[imported[1]!.session_id]!.first_message_index).toBe(1234567);
    });

    it("derives the same backup public key from a private key as the Rust library", async () => {
        const x25519 = await makeX25519();
        for (let i = 0; i < 5; i++) {
            const key = rust.BackupDecryptionKey.createRandomKey();
            expect(await backupPublicKeyFromPrivate(decodeBase64(key.toBase64()), { x25519 })).toBe(
                key.megolmV1PublicKey.publicKeyBase64,
            );
        }
    });

    it("rejects an entry whose MAC does not match, and a damaged ciphertext", async () => {
        const x25519 = await makeX25519();
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const otherKey = rust.BackupDecryptionKey.createRandomKey();
        const entry = await (
            await BackupEncryptor.create(backupKey.megolmV1PublicKey.publicKeyBase64, { x25519 })
        ).encrypt(makeExportedRoomKey());
        const right = await BackupDecryptor.create(decodeBase64(backupKey.toBase64()), { x25519 });
        const wrong = await BackupDecryptor.create(decodeBase64(otherKey.toBase64()), { x25519 });

        await expect(right.decrypt(entry.session_data)).resolves.toHaveProperty("session_key");
        const error = await expectKeysError(wrong.decrypt(entry.session_data), "backup_bad_mac");
        expect(error.message).toMatch(/MAC mismatch/);
        await expectKeysError(
            right.decrypt({ ...entry.session_data, mac: flipByte(entry.session_data.mac, 3) }),
            "backup_bad_mac",
        );
        await expectKeysError(
            right.decrypt({ ...entry.session_data, ephemeral: flipByte(entry.session_data.ephemeral, 0) }),
            "backup_bad_mac",
        );
        // The MAC covers no ciphertext (libolm's format), so damage there is caught by padding or parsing.
        await expectKeysError(
            right.decrypt({ ...entry.session_data, ciphertext: flipByte(entry.session_data.ciphertext, 0) }),
            "backup_undecryptable",
        );
        // The Rust library agrees on what is wrong.
        expect(() =>
            otherKey.decryptV1(entry.session_data.ephemeral, entry.session_data.mac, entry.session_data.ciphertext),
        ).toThrow();
    });

    it("refuses public keys that are not usable X25519 keys", async () => {
        const x25519 = await makeX25519();
        await expectKeysError(BackupEncryptor.create("AAAA", { x25519 }), "backup_bad_public_key");
        await expectKeysError(BackupEncryptor.create("not base64!", { x25519 }), "backup_bad_public_key");
        // The all-zero point has low order: every agreement with it gives the all-zero secret.
        const zero = await BackupEncryptor.create(encodeUnpaddedBase64(new Uint8Array(32)), { x25519 }).catch(
            (e: unknown) => e,
        );
        if (zero instanceof BackupEncryptor)
            await expectKeysError(zero.encrypt(makeExportedRoomKey()), "backup_bad_public_key");
        else expect((zero as KeysError).code).toBe("backup_bad_public_key");
    });
});

describe("backup crypto", () => {
    it("detects WebCrypto X25519 in Node and falls back to noble when WebCrypto lacks it", async () => {
        expect((await selectX25519(globalThis.crypto.subtle)).implementation).toBe("webcrypto");
        expect((await getX25519()).implementation).toBe("webcrypto");
        expect(getX25519()).toBe(getX25519());
        const real = globalThis.crypto.subtle;
        const withoutX25519 = new Proxy(real, {
            get(target, prop) {
                if (prop === "generateKey") {
                    return (algorithm: AlgorithmIdentifier, ...rest: unknown[]) =>
                        (typeof algorithm === "string" ? algorithm : algorithm.name) === "X25519"
                            ? Promise.reject(new DOMException("Unrecognized name", "NotSupportedError"))
                            : (target.generateKey as (...args: unknown[]) => unknown)(algorithm, ...rest);
                }
                const value = Reflect.get(target, prop, target) as unknown;
                return typeof value === "function" ? value.bind(target) : value;
            },
        });
        expect((await selectX25519(withoutX25519)).implementation).toBe("noble");
        expect((await selectX25519(undefined)).implementation).toBe("noble");
    });

    it("reads the first message index as a big-endian u32 after the version byte", () => {
        expect(firstMessageIndex(makeExportedRoomKey({ firstIndex: 0x01020304 }).session_key)).toBe(0x01020304);
        expect(firstMessageIndex(encodeBase64(Uint8Array.of(2, 0xff, 0xff, 0xff, 0xfe, 9)))).toBe(0xfffffffe);
        expect(() => firstMessageIndex("AQAA")).toThrow(KeysError);
    });

    it("works through the one-shot helpers with the detected X25519", async () => {
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const key = makeExportedRoomKey({ firstIndex: 3 });
        const entry = await encryptForBackup(key, backupKey.megolmV1PublicKey.publicKeyBase64);
        const privateKey = backupPrivateKeyFromSecret(backupKey.toBase64());
        const decrypted = await decryptFromBackup(entry.session_data, privateKey);
        expect(decrypted).toEqual(withoutIds(key));
        expect(exportedRoomKeyFromBackup(key.room_id, key.session_id, decrypted)).toEqual(key);
        // Each entry has its own ephemeral key.
        const again = await encryptForBackup(key, backupKey.megolmV1PublicKey.publicKeyBase64);
        expect(again.session_data.ephemeral).not.toBe(entry.session_data.ephemeral);
    });

    it("checks that a private key belongs to the backup the server presents", async () => {
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const other = rust.BackupDecryptionKey.createRandomKey();
        const privateKey = decodeBase64(backupKey.toBase64());
        const publicKey = backupKey.megolmV1PublicKey.publicKeyBase64;
        expect(await isBackupPrivateKeyFor(privateKey, publicKey)).toBe(true);
        expect(await isBackupPrivateKeyFor(privateKey, encodeBase64(decodeBase64(publicKey)))).toBe(true);
        expect(await isBackupPrivateKeyFor(privateKey, other.megolmV1PublicKey.publicKeyBase64)).toBe(false);
        expect(await isBackupPrivateKeyFor(privateKey, "garbage")).toBe(false);
        expect(() => backupPrivateKeyFromSecret("AAAA")).toThrow(KeysError);
    });

    it("streams keys into upload batches, pulling from the source only as batches are taken", async () => {
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const encryptor = await BackupEncryptor.create(backupKey.megolmV1PublicKey.publicKeyBase64);
        const total = 603;
        const keys = Array.from({ length: total }, (_, i) =>
            makeExportedRoomKey({ roomId: `!room${i % 7}:example.org`, firstIndex: i }),
        );
        let pulled = 0;
        async function* source() {
            for (const key of keys) {
                pulled++;
                yield key;
            }
        }
        const sizes: number[] = [];
        const pulledAtYield: number[] = [];
        const byId = new Map(keys.map((k) => [k.session_id, k]));
        const seen = new Set<string>();
        for await (const batch of backupBatches(source(), encryptor, { batchSize: 250, concurrency: 8 })) {
            pulledAtYield.push(pulled);
            sizes.push(batch.sessionCount);
            for (const [roomId, { sessions }] of Object.entries(batch.body.rooms)) {
                for (const [sessionId, entry] of Object.entries(sessions)) {
                    const { ephemeral, mac, ciphertext } = entry.session_data;
                    const plain = JSON.parse(backupKey.decryptV1(ephemeral, mac, ciphertext)) as {
                        session_key: string;
                    };
                    const key = byId.get(sessionId)!;
                    expect(key.room_id).toBe(roomId);
                    expect(plain.session_key).toBe(key.session_key);
                    seen.add(sessionId);
                }
            }
        }
        expect(sizes).toEqual([250, 250, 103]);
        expect(pulledAtYield).toEqual([250, 500, 603]);
        expect(seen.size).toBe(total);
    });

    it("keeps the better copy when a batch has the same session twice, as the server does", async () => {
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const encryptor = await BackupEncryptor.create(backupKey.megolmV1PublicKey.publicKeyBase64);
        const later = makeExportedRoomKey({ firstIndex: 9 });
        const earlierBytes = decodeBase64(later.session_key);
        new DataView(earlierBytes.buffer).setUint32(1, 2, false);
        const earlier = { ...later, session_key: encodeUnpaddedBase64(earlierBytes) };
        const forwarded = {
            ...earlier,
            forwarding_curve25519_key_chain: [encodeUnpaddedBase64(new Uint8Array(32).fill(1))],
        };
        const batches = [];
        for await (const batch of backupBatches([later, earlier, forwarded], encryptor)) batches.push(batch);
        expect(batches).toHaveLength(1);
        expect(batches[0]!.sessionCount).toBe(1);
        const entry = batches[0]!.body.rooms[later.room_id]!.sessions[later.session_id]!;
        expect(entry.first_message_index).toBe(2);
        expect(entry.forwarded_count).toBe(0);
    });

    it("imports what it decrypts into a fresh Rust OlmMachine (the restore path)", async () => {
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const key = makeExportedRoomKey({ roomId: "!restore:example.org", firstIndex: 5 });
        const entry = await encryptForBackup(key, backupKey.megolmV1PublicKey.publicKeyBase64);
        const decrypted = JSON.parse(
            backupKey.decryptV1(entry.session_data.ephemeral, entry.session_data.mac, entry.session_data.ciphertext),
        ) as unknown;
        const machine = await makeOlmMachine();
        const result = await machine.importBackedUpRoomKeys(
            new Map([[new rust.RoomId(key.room_id), new Map([[key.session_id, decrypted]])]]),
            () => {},
            "1",
        );
        expect(result.importedCount).toBe(1);
        const exported = JSON.parse(await machine.exportRoomKeys(() => true)) as ExportedRoomKey[];
        expect(exported.map((k) => [k.room_id, k.session_id, k.session_key])).toEqual([
            [key.room_id, key.session_id, key.session_key],
        ]);
    });
});
