/**
 * Setting up recovery (cross-signing, secret storage, key backup) for a new account that has no key backup yet, from
 * a temporary crypto session of its own: keys in memory only, never in Element's storage, signed out at the end.
 *
 * It refuses to run where it could destroy something: matrix-js-sdk's "new key backup" path deletes existing backups,
 * and new cross-signing keys would replace an identity the user's other devices trust. So it runs only when the
 * account has no backup, and either no secret storage at all or secret storage the given recovery key opens.
 */
import { MatrixHttp } from "../sessions/matrixHttp.ts";
import { type BackupVersion, accountData, currentBackup, opensSecretStorage } from "./backups.ts";
import { KeysError } from "./errors.ts";
import { DEFAULT_KEY_EVENT_TYPE, decodeRecoveryKey, encodeRecoveryKey } from "./secretStorage.ts";

export interface RecoverySetupInput {
    baseUrl: string;
    userId: string;
    /** Needed by the server to approve new cross-signing keys (user-interactive auth). */
    password: string;
    /** Use this recovery key (must open existing secret storage, if any); otherwise a new one is made. */
    recoveryKey?: string;
    deviceName?: string;
}

export interface RecoverySetupResult {
    backup: BackupVersion;
    /** Shown to the user once: the only way to read the backup later. */
    recoveryKey: string;
    createdSecretStorage: boolean;
}

const CROSS_SIGNING_SECRETS = ["m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing"];

/**
 * An account that already has a cross-signing identity (a master key on the server) keeps it: the user's other
 * devices and contacts trust it. Setting up is safe only when secret storage, opened by the recovery key given, holds
 * all three private keys — matrix-js-sdk then imports them instead of making new ones. Otherwise it refuses.
 */
async function refuseToReplaceCrossSigning(http: MatrixHttp, userId: string, openedKeyId: string | undefined): Promise<void> {
    const keys = await http.request<{ master_keys?: Record<string, unknown> }>("POST", "/keys/query", { body: { device_keys: { [userId]: [] } } });
    if (!keys.master_keys?.[userId]) return;
    if (openedKeyId) {
        const stored = await Promise.all(
            CROSS_SIGNING_SECRETS.map((type) => accountData<{ encrypted?: Record<string, unknown> }>(http, userId, type)),
        );
        if (stored.every((secret) => secret?.encrypted?.[openedKeyId] !== undefined)) return;
    }
    throw new KeysError(
        "cross_signing_exists",
        `${userId} already has a cross-signing identity that its other devices trust, and setting up recovery here would ` +
            "replace it. Nothing was changed. Instead, sign in to the new account in Element and turn on key storage there " +
            "(Settings → Encryption → Recovery), then continue; or save the keys as a file to import in Element.",
    );
}

export async function setUpNewAccountRecovery(http: MatrixHttp, input: RecoverySetupInput): Promise<RecoverySetupResult> {
    if (await currentBackup(http)) throw new KeysError("backup_exists", `${input.userId} already has a key backup; it is used as it is.`);
    const defaultKey = await accountData<{ key?: string }>(http, input.userId, DEFAULT_KEY_EVENT_TYPE);
    let givenKey: Uint8Array | undefined;
    if (input.recoveryKey) givenKey = decodeRecoveryKey(input.recoveryKey);
    if (defaultKey?.key) {
        if (!givenKey) {
            throw new KeysError(
                "secret_storage_exists",
                `${input.userId} already has secret storage: give its recovery key, or sign in to it once in Element and turn on key storage there.`,
            );
        }
        if (!(await opensSecretStorage(http, input.userId, defaultKey.key, givenKey))) {
            throw new KeysError("recovery_key_wrong", `That recovery key does not belong to ${input.userId}`);
        }
    }

    await refuseToReplaceCrossSigning(http, input.userId, givenKey ? defaultKey?.key : undefined);

    // matrix-js-sdk only here, loaded on demand: the module's entry must stay light. lib/matrix.js, not the package
    // root, whose entry point refuses to load beside Element's own copy of the SDK.
    const sdk = await import("matrix-js-sdk/lib/matrix.js");
    const login = await http.request<{ access_token: string; device_id: string; user_id: string }>("POST", "/login", {
        body: {
            type: "m.login.password",
            identifier: { type: "m.id.user", user: input.userId },
            password: input.password,
            initial_device_display_name: input.deviceName ?? "Account migration (setting up recovery)",
        },
    });
    const secretStorageKeys = new Map<string, Uint8Array<ArrayBuffer>>();
    let generated: { privateKey: Uint8Array<ArrayBuffer>; encodedPrivateKey?: string } | undefined;
    const client = sdk.createClient({
        baseUrl: input.baseUrl,
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
        cryptoCallbacks: {
            getSecretStorageKey: async ({ keys }) => {
                for (const keyId of Object.keys(keys)) {
                    const cached = secretStorageKeys.get(keyId);
                    if (cached) return [keyId, cached];
                }
                if (givenKey && defaultKey?.key && keys[defaultKey.key]) return [defaultKey.key, new Uint8Array(givenKey)];
                return null;
            },
            cacheSecretStorageKey: (keyId, _info, key) => void secretStorageKeys.set(keyId, key),
        },
    });
    try {
        await client.initRustCrypto({ useIndexedDB: false });
        const crypto = client.getCrypto()!;
        await crypto.bootstrapCrossSigning({
            authUploadDeviceSigningKeys: async (makeRequest) => {
                await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: input.userId }, password: input.password });
            },
        });
        await crypto.bootstrapSecretStorage({
            setupNewKeyBackup: true,
            createSecretStorageKey: async () => {
                generated = givenKey ? { privateKey: new Uint8Array(givenKey) } : await crypto.createRecoveryKeyFromPassphrase();
                return generated;
            },
        });
        const backup = await currentBackup(http);
        if (!backup) throw new KeysError("backup_missing", "The key backup was not created; nothing else was changed.");
        return {
            backup,
            recoveryKey: input.recoveryKey ?? generated?.encodedPrivateKey ?? encodeRecoveryKey(generated!.privateKey),
            createdSecretStorage: !defaultKey?.key,
        };
    } finally {
        // Let the crypto layer's last requests land before stopping (stopping mid-request crashes the Rust side).
        await client.getCrypto()?.getKeyBackupInfo().catch(() => undefined);
        client.stopClient();
        await new MatrixHttp(input.baseUrl, login.access_token).request("POST", "/logout", { body: {} }).catch(() => undefined);
    }
}
