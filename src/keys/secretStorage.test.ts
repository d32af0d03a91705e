import { describe, expect, it } from "@jest/globals";
import bs58 from "bs58";
// matrix-js-sdk writes the test data, as other clients store it; the recovery key cases pin the wrapper's codes.
import { calculateKeyCheck as sdkCalculateKeyCheck } from "matrix-js-sdk/lib/secret-storage.js";
import sdkEncryptSecret from "matrix-js-sdk/lib/utils/encryptAESSecretStorageItem.js";
import {
    decodeRecoveryKey as sdkDecodeRecoveryKey,
    encodeRecoveryKey as sdkEncodeRecoveryKey,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { backupPrivateKeyFromSecret, isBackupPrivateKeyFor } from "./backupCrypto.ts";
import { decodeBase64 } from "./base64.ts";
import { KeysError } from "./errors.ts";
import {
    BACKUP_SECRET_NAME,
    SECRET_STORAGE_ALGORITHM,
    checkSecretStorageKey,
    decodeRecoveryKey,
    decryptSecret,
    encodeRecoveryKey,
    readSecret,
    type SecretStorageKeyDescription,
} from "./secretStorage.ts";
import { loadRustCrypto } from "./testSupport.ts";

function randomKey(): Uint8Array<ArrayBuffer> {
    return globalThis.crypto.getRandomValues(new Uint8Array(32));
}

function codeOf(fn: () => unknown): string | undefined {
    try {
        fn();
        return undefined;
    } catch (e) {
        return e instanceof KeysError ? e.code : `not a KeysError: ${String(e)}`;
    }
}

async function asyncCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
    return promise.then(
        () => undefined,
        (e: unknown) => (e instanceof KeysError ? e.code : `not a KeysError: ${String(e)}`),
    );
}

describe("secret storage key check", () => {
    it("accepts the key a key description was made with (by matrix-js-sdk) and rejects another", async () => {
        for (let i = 0; i < 5; i++) {
            const key = randomKey();
            const check = await sdkCalculateKeyCheck(key);
            const description: SecretStorageKeyDescription = { algorithm: SECRET_STORAGE_ALGORITHM, ...check };
            expect(await checkSecretStorageKey(key, description)).toBe(true);
            expect(await checkSecretStorageKey(randomKey(), description)).toBe(false);
            // Unpadded, as other clients write it.
            const unpadded = { ...description, iv: check.iv.replace(/=+$/, ""), mac: check.mac.replace(/=+$/, "") };
            expect(await checkSecretStorageKey(key, unpadded)).toBe(true);
        }
    });

    it("explains descriptions it cannot use", async () => {
        const key = randomKey();
        const check = await sdkCalculateKeyCheck(key);
        expect(
            await asyncCodeOf(
                checkSecretStorageKey(key, { algorithm: "m.secret_storage.v1.curve25519-aes-sha2", ...check }),
            ),
        ).toBe("secret_storage_unsupported_algorithm");
        expect(await asyncCodeOf(checkSecretStorageKey(key, { algorithm: SECRET_STORAGE_ALGORITHM }))).toBe(
            "secret_storage_key_uncheckable",
        );
        expect(
            await asyncCodeOf(
                checkSecretStorageKey(new Uint8Array(16), { algorithm: SECRET_STORAGE_ALGORITHM, ...check }),
            ),
        ).toBe("secret_storage_malformed");
        expect(
            await asyncCodeOf(
                checkSecretStorageKey(key, { algorithm: SECRET_STORAGE_ALGORITHM, ...check, iv: "AAAA" }),
            ),
        ).toBe("secret_storage_malformed");
    });

    it("issue 7.16: checks a key whose description has no iv/mac by decrypting a secret stored with it", async () => {
        const key = randomKey();
        const oldDescription: SecretStorageKeyDescription = {
            algorithm: SECRET_STORAGE_ALGORITHM,
            name: "written by an old client",
        };
        const backupSecret = {
            name: BACKUP_SECRET_NAME,
            encrypted: await sdkEncryptSecret("the backup key", key, BACKUP_SECRET_NAME),
        };
        const masterSecret = {
            name: "m.cross_signing.master",
            encrypted: await sdkEncryptSecret("the master key", key, "m.cross_signing.master"),
        };
        expect(await checkSecretStorageKey(key, oldDescription, async () => [backupSecret])).toBe(true);
        expect(await checkSecretStorageKey(randomKey(), oldDescription, async () => [backupSecret, masterSecret])).toBe(
            false,
        );
        // One damaged copy does not hide a key another secret proves.
        const damaged = { ...backupSecret, encrypted: { ...backupSecret.encrypted, mac: masterSecret.encrypted.mac } };
        expect(await checkSecretStorageKey(key, oldDescription, async () => [damaged, masterSecret])).toBe(true);
        expect(await checkSecretStorageKey(key, oldDescription, async () => [damaged])).toBe(false);
        // The stored secrets are read only when the description cannot tell.
        let read = 0;
        const counted = async () => (read++, [backupSecret]);
        expect(
            await checkSecretStorageKey(
                key,
                { algorithm: SECRET_STORAGE_ALGORITHM, ...(await sdkCalculateKeyCheck(key)) },
                counted,
            ),
        ).toBe(true);
        expect(read).toBe(0);
        expect(await asyncCodeOf(checkSecretStorageKey(key, oldDescription, async () => []))).toBe(
            "secret_storage_key_uncheckable",
        );
    });
});

describe("secret storage secrets", () => {
    const secrets = ["c2VjcmV0IGJhY2t1cCBrZXkgYnl0ZXMgMDEyMzQ1Njc4OQ", "", "ünïcödé 🔑 text"];

    it("decrypts secrets matrix-js-sdk encrypted", async () => {
        for (const secret of secrets) {
            const key = randomKey();
            const encrypted = await sdkEncryptSecret(secret, key, "m.cross_signing.master");
            expect(await decryptSecret(encrypted, key, "m.cross_signing.master")).toBe(secret);
        }
    });

    it("refuses a wrong key, a wrong name and a damaged secret before decrypting", async () => {
        const key = randomKey();
        const encrypted = await sdkEncryptSecret("the secret", key, BACKUP_SECRET_NAME);
        expect(await asyncCodeOf(decryptSecret(encrypted, randomKey(), BACKUP_SECRET_NAME))).toBe(
            "secret_storage_bad_mac",
        );
        expect(await asyncCodeOf(decryptSecret(encrypted, key, "m.cross_signing.master"))).toBe(
            "secret_storage_bad_mac",
        );
        const damaged = decodeBase64(encrypted.ciphertext);
        damaged[0]! ^= 1;
        expect(
            await asyncCodeOf(
                decryptSecret(
                    { ...encrypted, ciphertext: btoa(String.fromCharCode(...damaged)) },
                    key,
                    BACKUP_SECRET_NAME,
                ),
            ),
        ).toBe("secret_storage_bad_mac");
        expect(await asyncCodeOf(decryptSecret({ ...encrypted, mac: "%%%" }, key, BACKUP_SECRET_NAME))).toBe(
            "secret_storage_malformed",
        );
    });

    it("reads the backup key from account data and proves it belongs to the Rust-made backup", async () => {
        const rust = await loadRustCrypto();
        const backupKey = rust.BackupDecryptionKey.createRandomKey();
        const storageKey = randomKey();
        const keyId = "abcDEF123";
        // What a client stores: `m.megolm_backup.v1` account data with the key encrypted to secret storage.
        const accountData = {
            encrypted: { [keyId]: await sdkEncryptSecret(backupKey.toBase64(), storageKey, BACKUP_SECRET_NAME) },
        };
        const secret = await readSecret(accountData, keyId, storageKey, BACKUP_SECRET_NAME);
        const privateKey = backupPrivateKeyFromSecret(secret);
        expect(await isBackupPrivateKeyFor(privateKey, backupKey.megolmV1PublicKey.publicKeyBase64)).toBe(true);
        expect(await asyncCodeOf(readSecret(accountData, "otherKey", storageKey, BACKUP_SECRET_NAME))).toBe(
            "secret_storage_secret_missing",
        );
    });
});

describe("recovery keys", () => {
    it("encodes exactly as matrix-js-sdk, and each decodes the other's", () => {
        const keys = [new Uint8Array(32), new Uint8Array(32).fill(0xff), ...Array.from({ length: 50 }, randomKey)];
        for (const key of keys) {
            const ours = encodeRecoveryKey(key);
            expect(ours).toBe(sdkEncodeRecoveryKey(key));
            expect(ours).toMatch(/^([1-9A-HJ-NP-Za-km-z]{4} )+[1-9A-HJ-NP-Za-km-z]{1,4}$/);
            expect(decodeRecoveryKey(ours)).toEqual(key);
            expect(sdkDecodeRecoveryKey(ours)).toEqual(key);
        }
    });

    it("ignores spaces and line breaks", () => {
        const key = randomKey();
        const text = encodeRecoveryKey(key);
        expect(decodeRecoveryKey(text.replace(/ /g, ""))).toEqual(key);
        expect(decodeRecoveryKey(`  ${text.replace(/ /g, "\n")}\t`)).toEqual(key);
    });

    it("says what is wrong with a malformed key", () => {
        const key = randomKey();
        const text = encodeRecoveryKey(key).replace(/ /g, "");
        expect(codeOf(() => decodeRecoveryKey(""))).toBe("recovery_key_malformed");
        expect(codeOf(() => decodeRecoveryKey(`${text.slice(0, 10)}0${text.slice(11)}`))).toBe(
            "recovery_key_malformed",
        );
        expect(codeOf(() => decodeRecoveryKey(`${text.slice(0, 10)}l${text.slice(11)}`))).toBe(
            "recovery_key_malformed",
        );
        expect(codeOf(() => decodeRecoveryKey(text.slice(0, -3)))).toBe("recovery_key_wrong_length");
        expect(codeOf(() => decodeRecoveryKey(`${text}zz`))).toBe("recovery_key_wrong_length");

        const withParity = (bytes: number[]) => [...bytes, bytes.reduce((a, b) => a ^ b, 0)];
        const wrongPrefix = bs58.encode(Uint8Array.from(withParity([0x8b, 0x02, ...key])));
        expect(codeOf(() => decodeRecoveryKey(wrongPrefix))).toBe("recovery_key_wrong_prefix");
        const good = withParity([0x8b, 0x01, ...key]);
        good[good.length - 1]! ^= 0x10;
        expect(codeOf(() => decodeRecoveryKey(bs58.encode(Uint8Array.from(good))))).toBe("recovery_key_wrong_parity");
        // A whole backup key is not a recovery key either.
        expect(codeOf(() => decodeRecoveryKey(bs58.encode(key)))).toBe("recovery_key_wrong_length");
        // Messages never echo the key.
        try {
            decodeRecoveryKey(text.slice(0, -3));
        } catch (e) {
            expect((e as Error).message).not.toContain(text.slice(0, 8));
        }
    });

    it("accepts and rejects the same typos as matrix-js-sdk", () => {
        const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        let rejected = 0;
        for (let i = 0; i < 300; i++) {
            const key = randomKey();
            const text = encodeRecoveryKey(key).replace(/ /g, "");
            const at = i % text.length;
            const typo = `${text.slice(0, at)}${alphabet[(alphabet.indexOf(text[at]!) + 1 + (i % 57)) % 58]}${text.slice(at + 1)}`;
            let sdk: Uint8Array | undefined;
            try {
                sdk = sdkDecodeRecoveryKey(typo);
            } catch {
                sdk = undefined;
            }
            let ours: Uint8Array | undefined;
            try {
                ours = decodeRecoveryKey(typo);
            } catch {
                ours = undefined;
            }
            expect(ours).toEqual(sdk);
            if (!ours) rejected++;
        }
        // Almost every typo is caught (the parity byte misses 1 in 256).
        expect(rejected).toBeGreaterThan(280);
    });
});
