/**
 * Issue 7.16 on a real server: secret storage whose key description has no `iv`/`mac` (very old clients wrote it so;
 * the spec still allows it). A recovery key is then checked by decrypting a secret stored with that key and
 * verifying its MAC, both where the old backup is opened and where recovery is set up for the new account.
 * Secret storage, cross-signing and backup are made by matrix-js-sdk with real Rust crypto; the description is then
 * rewritten as an old client would have left it.
 */
import {
    currentBackup,
    backupKeyFromRecoveryKey,
    opensSecretStorage,
    accountData,
    type BackupVersion,
} from "../../src/keys/backups.ts";
import { isBackupPrivateKeyFor } from "../../src/keys/backupCrypto.ts";
import { KeysError } from "../../src/keys/errors.ts";
import { setUpNewAccountRecovery } from "../../src/keys/recoverySetup.ts";
import {
    BACKUP_SECRET_NAME,
    DEFAULT_KEY_EVENT_TYPE,
    type SecretStorageKeyDescription,
    decodeRecoveryKey,
    encodeRecoveryKey,
    keyDescriptionEventType,
} from "../../src/keys/secretStorage.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { startClient, stopAllClients } from "../bed/clients.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { passwordSession } from "../bed/passwordSession.ts";
import { SecretStorageKeys, setUpRecovery } from "../fixtures/demoAccounts.ts";

let user: RegisteredUser;
let http: MatrixHttp;
let recoveryKey: string;
let keyId: string;
let backup: BackupVersion;

function putAccountData(type: string, content: Record<string, unknown>): Promise<unknown> {
    return http.request("PUT", `/user/${seg(user.userId)}/account_data/${seg(type)}`, { body: content });
}

async function keysErrorCode(promise: Promise<unknown>): Promise<string | undefined> {
    return promise.then(
        () => undefined,
        (e: unknown) => (e instanceof KeysError ? e.code : `not a KeysError: ${String(e)}`),
    );
}

const otherRecoveryKey = () => encodeRecoveryKey(globalThis.crypto.getRandomValues(new Uint8Array(32)));

beforeAll(async () => {
    const bed = currentBed();
    user = await registerUser(bed.b, uniqueLocalpart("old-key-description"));
    http = new MatrixHttp(bed.b.baseUrl, user.accessToken);
    try {
        const client = await startClient(user, { cryptoCallbacks: new SecretStorageKeys().callbacks });
        ({ recoveryKey } = await setUpRecovery(client, user));
    } finally {
        await stopAllClients();
    }
    keyId = (await accountData<{ key: string }>(http, user.userId, DEFAULT_KEY_EVENT_TYPE))!.key;
    const description = (await accountData<SecretStorageKeyDescription>(
        http,
        user.userId,
        keyDescriptionEventType(keyId),
    ))!;
    expect(typeof description.iv).toBe("string");
    const { iv: _iv, mac: _mac, ...withoutCheck } = description;
    await putAccountData(keyDescriptionEventType(keyId), withoutCheck);
    backup = (await currentBackup(http))!;
});

test("issue 7.16: the recovery key opens the key backup although the key description has no iv/mac", async () => {
    const stored = await accountData<SecretStorageKeyDescription>(http, user.userId, keyDescriptionEventType(keyId));
    expect(stored).not.toHaveProperty("iv");
    expect(stored).not.toHaveProperty("mac");

    const opened = await backupKeyFromRecoveryKey(http, user.userId, recoveryKey, backup);
    expect(opened.openedWith).toBe("secret-storage");
    expect(await isBackupPrivateKeyFor(opened.privateKey, backup.publicKey)).toBe(true);

    expect(await keysErrorCode(backupKeyFromRecoveryKey(http, user.userId, otherRecoveryKey(), backup))).toBe(
        "recovery_key_wrong",
    );
});

test("issue 7.16: without a backup, the cross-signing secrets prove the key, so recovery set-up accepts the right key only", async () => {
    // What "set up recovery here" meets: secret storage from an earlier set-up, no backup (and so no backup secret).
    await http.request("DELETE", `/room_keys/version/${seg(backup.version)}`);
    await putAccountData(BACKUP_SECRET_NAME, {});
    expect(await currentBackup(http)).toBeNull();

    expect(await opensSecretStorage(http, user.userId, keyId, decodeRecoveryKey(recoveryKey))).toBe(true);
    expect(await opensSecretStorage(http, user.userId, keyId, decodeRecoveryKey(otherRecoveryKey()))).toBe(false);
    // Refused at the key check, before any key is made.
    const session = await passwordSession(user.homeserver.baseUrl, user);
    try {
        const wrong = setUpNewAccountRecovery(session.http, { session, recoveryKey: otherRecoveryKey() });
        expect(await keysErrorCode(wrong)).toBe("recovery_key_wrong");
    } finally {
        await session.signOut();
    }
});
