/**
 * Setting up recovery (cross-signing, secret storage, key backup) for a new account that has no key backup yet, from
 * a crypto session on the migration's own temporary device (keys in memory only, never in Element's storage; the
 * device is signed out with the migration session). No second sign-in, so no password is kept for it: when the
 * server asks for approval of the new keys (user-interactive auth), the person gives it at that moment — the password
 * again, or the server's single sign-on / account page — and the upload is retried.
 *
 * It refuses to run where it could destroy something: matrix-js-sdk's "new key backup" path deletes existing backups,
 * and new cross-signing keys would replace an identity the user's other devices trust. So it runs only when the
 * account has no backup, either no secret storage at all or secret storage the given recovery key opens, and no
 * cross-signing identity unless that secret storage holds its private keys. The approval may take minutes, in which
 * the person may set up a backup on another device: so the account is checked again right before the backup is
 * made, and the crypto session can never delete a backup version at all (its requests to do so are refused here).
 */
import type { MatrixHttp } from "../sessions/matrixHttp.ts";
import { checkServerUrl } from "../sessions/serverUrl.ts";
import type { SignedInSession } from "../sessions/session.ts";
import { isBackupPrivateKeyFor } from "./backupCrypto.ts";
import { type BackupVersion, accountData, currentBackup, opensSecretStorage } from "./backups.ts";
import { KeysError } from "./errors.ts";
import { DEFAULT_KEY_EVENT_TYPE, decodeRecoveryKey, encodeRecoveryKey } from "./secretStorage.ts";

/** How the person approves new cross-signing keys when the server asks (rare: a first upload needs no approval). */
export interface ServerApproval {
    /** The server wants the account's password: resolve with it, or null to give up. Used for that one request. */
    askPassword(): Promise<string | null>;
    /** The server wants approval on one of its pages (OAuth account page, SSO): show it; the upload is retried. */
    openPage(url: string): void;
    /** Stops waiting for the page. */
    signal?: AbortSignal;
}

export interface RecoverySetupInput {
    /** The migration's own session on the new account (created by this tool: its device gets the crypto keys). */
    session: Pick<SignedInSession, "baseUrl" | "userId" | "deviceId" | "accessToken" | "fetch" | "temporary">;
    /** Use this recovery key (must open existing secret storage, if any); otherwise a new one is made. */
    recoveryKey?: string;
    approval?: ServerApproval;
}

export interface RecoverySetupResult {
    backup: BackupVersion;
    /** Shown to the user once: the only way to read the backup later. */
    recoveryKey: string;
    createdSecretStorage: boolean;
}

const CROSS_SIGNING_SECRETS = [
    "m.cross_signing.master",
    "m.cross_signing.self_signing",
    "m.cross_signing.user_signing",
];

/**
 * An account that already has a cross-signing identity (a master key on the server) keeps it: the user's other
 * devices and contacts trust it. Setting up is safe only when secret storage, opened by the recovery key given, holds
 * all three private keys — matrix-js-sdk then imports them instead of making new ones. Otherwise it refuses.
 * Resolves to whether the server has an identity (to be imported).
 */
async function refuseToReplaceCrossSigning(
    http: MatrixHttp,
    userId: string,
    openedKeyId: string | undefined,
): Promise<boolean> {
    const keys = await http.request<{ master_keys?: Record<string, unknown> }>("POST", "/keys/query", {
        body: { device_keys: { [userId]: [] } },
    });
    if (!keys.master_keys?.[userId]) return false;
    if (openedKeyId) {
        const stored = await Promise.all(
            CROSS_SIGNING_SECRETS.map((type) =>
                accountData<{ encrypted?: Record<string, unknown> }>(http, userId, type),
            ),
        );
        if (stored.every((secret) => secret?.encrypted?.[openedKeyId] !== undefined)) return true;
    }
    throw new KeysError(
        "cross_signing_exists",
        `${userId} already has a cross-signing identity that its other devices trust, and setting up recovery here would ` +
            "replace it. Nothing was changed. Instead, sign in to the new account in Element and turn on key storage there " +
            "(Settings → Encryption → Recovery), then continue; or save the keys as a file to import in Element.",
    );
}

export async function setUpNewAccountRecovery(
    http: MatrixHttp,
    input: RecoverySetupInput,
): Promise<RecoverySetupResult> {
    const { session } = input;
    const userId = session.userId;
    if (!session.temporary || !session.deviceId) {
        throw new KeysError(
            "recovery_needs_own_session",
            "Setting up recovery needs a session this tool signed in itself (its keys go on that session's device): sign the new account in with its password, single sign-on or OAuth 2.0 instead of an access token.",
        );
    }
    if (await currentBackup(http))
        throw new KeysError("backup_exists", `${userId} already has a key backup; it is used as it is.`);
    const defaultKey = await accountData<{ key?: string }>(http, userId, DEFAULT_KEY_EVENT_TYPE);
    let givenKey: Uint8Array | undefined;
    if (input.recoveryKey) givenKey = decodeRecoveryKey(input.recoveryKey);
    if (defaultKey?.key) {
        if (!givenKey) {
            throw new KeysError(
                "secret_storage_exists",
                `${userId} already has secret storage: give its recovery key, or sign in to it once in Element and turn on key storage there.`,
            );
        }
        if (!(await opensSecretStorage(http, userId, defaultKey.key, givenKey))) {
            throw new KeysError("recovery_key_wrong", `That recovery key does not belong to ${userId}`);
        }
    }

    const hasIdentity = await refuseToReplaceCrossSigning(http, userId, givenKey ? defaultKey?.key : undefined);

    // An earlier attempt on this session stopped part-way: go on with its crypto session, whose cross-signing keys
    // never reached the server (it has no identity), so new ones are made and uploaded.
    let crypto = unfinished.get(session);
    unfinished.delete(session);
    if (crypto && hasIdentity) {
        await stopCrypto(crypto);
        crypto = undefined;
    }
    const retry = !!crypto;
    crypto ??= await startCrypto(session, userId);
    const attempt: Attempt = { defaultKeyId: defaultKey?.key, givenKey };
    crypto.attempt = attempt;
    const sdkCrypto = crypto.client.getCrypto()!;
    try {
        await sdkCrypto.bootstrapCrossSigning({
            setupNewCrossSigning: retry,
            authUploadDeviceSigningKeys: (makeRequest) =>
                uploadWithApproval(makeRequest, session.baseUrl, userId, input.approval),
        });
        // Again, right before: the approval may have taken minutes, and matrix-js-sdk's new backup replaces every one.
        await refuseIfChangedMeanwhile(http, userId, defaultKey?.key);
        await sdkCrypto.bootstrapSecretStorage({
            setupNewKeyBackup: true,
            createSecretStorageKey: async () => {
                attempt.generated = givenKey
                    ? { privateKey: new Uint8Array(givenKey) }
                    : await sdkCrypto.createRecoveryKeyFromPassphrase();
                return attempt.generated;
            },
        });
        const backup = await currentBackup(http);
        if (!backup) throw new KeysError("backup_missing", "The key backup was not created; nothing else was changed.");
        // The backup the server now presents must be the one just made here (its key is in this crypto session): a
        // server could present its own key instead, and read every room key handed to it.
        const madeHere = await sdkCrypto.getSessionBackupPrivateKey();
        if (!madeHere || !(await isBackupPrivateKeyFor(madeHere, backup.publicKey))) {
            throw new KeysError(
                "backup_key_mismatch",
                `${userId}'s server presents a key backup (version ${backup.version}) that is not the one just created here: ` +
                    "its key could be the server's own. No keys were handed to it. Check the new account in Element " +
                    "(Settings → Encryption) before trusting that server with your keys.",
            );
        }
        await stopCrypto(crypto);
        return {
            backup,
            recoveryKey:
                input.recoveryKey ??
                attempt.generated?.encodedPrivateKey ??
                encodeRecoveryKey(attempt.generated!.privateKey),
            createdSecretStorage: !defaultKey?.key,
        };
    } catch (e) {
        unfinished.set(session, crypto);
        if (crypto.deletionRefused) throw backupCreatedMeanwhile(userId);
        throw e;
    }
}

function backupCreatedMeanwhile(userId: string): KeysError {
    return new KeysError(
        "backup_exists",
        `While this tool waited, a key backup was set up for ${userId} elsewhere (e.g. on another device). It was kept, ` +
            "and recovery was not set up here: run the migration again to hand the keys to that backup (with its recovery key).",
    );
}

/** The account gained a backup, or other secret storage, since the checks at the start: nothing more is done. */
async function refuseIfChangedMeanwhile(http: MatrixHttp, userId: string, defaultKeyId: string | undefined) {
    if (await currentBackup(http).catch(() => true)) throw backupCreatedMeanwhile(userId);
    const now = await accountData<{ key?: string }>(http, userId, DEFAULT_KEY_EVENT_TYPE);
    if (now?.key !== defaultKeyId) {
        throw new KeysError(
            "secret_storage_exists",
            `While this tool waited, secret storage was set up for ${userId} elsewhere (e.g. on another device); recovery ` +
                "was not set up here. Run the migration again with the new account's recovery key.",
        );
    }
}

/**
 * The crypto session's fetch, minus deleting key backup versions: matrix-js-sdk's new backup first deletes every
 * existing one, and one that appeared after the last check must survive that.
 */
export function neverDeletingBackups(fetchFn: typeof fetch, onRefused: () => void): typeof fetch {
    return async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
        if (method === "DELETE" && /\/room_keys\/version(\/|$)/.test(new URL(url).pathname)) {
            onRefused();
            return new Response(
                JSON.stringify({ errcode: "M_FORBIDDEN", error: "This tool never deletes a key backup" }),
                { status: 403, headers: { "Content-Type": "application/json" } },
            );
        }
        return fetchFn(input, init);
    };
}

/** What one attempt knows: the recovery key given (if any), and the key made for new secret storage. */
interface Attempt {
    defaultKeyId?: string;
    givenKey?: Uint8Array;
    generated?: { privateKey: Uint8Array<ArrayBuffer>; encodedPrivateKey?: string };
}

interface CryptoSession {
    client: import("matrix-js-sdk/lib/matrix.js").MatrixClient;
    attempt: Attempt;
    /** The crypto session tried to delete a key backup version (and was refused). */
    deletionRefused?: boolean;
}

/**
 * Crypto sessions of set-ups that stopped part-way (an approval cancelled or refused, a network error), by the
 * migration session they belong to. Their device's keys are on the server already: a new crypto session for the same
 * device would make other ones, which the server refuses ("One time key … already exists"), so the next attempt
 * goes on with the same one. Stopped by `endRecoverySetup` when the session ends.
 */
const unfinished = new WeakMap<object, CryptoSession>();

/** A crypto session (matrix-js-sdk, Rust crypto in memory) on the migration session's own device. */
async function startCrypto(session: RecoverySetupInput["session"], userId: string): Promise<CryptoSession> {
    // matrix-js-sdk only here, loaded on demand: the module's entry must stay light. lib/matrix.js, not the package
    // root, whose entry point refuses to load beside Element's own copy of the SDK.
    const sdk = await import("matrix-js-sdk/lib/matrix.js");
    const secretStorageKeys = new Map<string, Uint8Array<ArrayBuffer>>();
    const crypto: CryptoSession = {
        attempt: {},
        client: sdk.createClient({
            baseUrl: session.baseUrl,
            userId,
            deviceId: session.deviceId,
            accessToken: session.accessToken(),
            // The session's own fetch (an OAuth 2.0 token is refreshed for this client too), never deleting a backup.
            fetchFn: neverDeletingBackups(session.fetch, () => (crypto.deletionRefused = true)),
            cryptoCallbacks: {
                getSecretStorageKey: async ({ keys }) => {
                    for (const keyId of Object.keys(keys)) {
                        const cached = secretStorageKeys.get(keyId);
                        if (cached) return [keyId, cached];
                    }
                    const { givenKey, defaultKeyId } = crypto.attempt;
                    if (givenKey && defaultKeyId && keys[defaultKeyId]) return [defaultKeyId, new Uint8Array(givenKey)];
                    return null;
                },
                cacheSecretStorageKey: (keyId, _info, key) => void secretStorageKeys.set(keyId, key),
            },
        }),
    };
    try {
        await crypto.client.initRustCrypto({ useIndexedDB: false });
    } catch (e) {
        crypto.client.stopClient();
        throw e;
    }
    return crypto;
}

async function stopCrypto(crypto: CryptoSession): Promise<void> {
    // Let the crypto layer's last requests land before stopping (stopping mid-request crashes the Rust side).
    await crypto.client
        .getCrypto()
        ?.getKeyBackupInfo()
        .catch(() => undefined);
    crypto.client.stopClient();
}

/** The migration session ends: a crypto session kept from a set-up that stopped part-way stops too. */
export async function endRecoverySetup(session: object): Promise<void> {
    const crypto = unfinished.get(session);
    unfinished.delete(session);
    if (crypto) await stopCrypto(crypto);
}

/** The body of a 401 that asks for user-interactive auth. */
interface AuthRequired {
    session?: string;
    flows?: Array<{ stages?: string[] }>;
    params?: Record<string, { url?: string } | undefined>;
}

const APPROVAL_POLL_MS = 3_000;
const APPROVAL_WAIT_MS = 10 * 60_000;

function authRequired(e: unknown): AuthRequired | undefined {
    const err = e as { httpStatus?: number; data?: AuthRequired };
    return err?.httpStatus === 401 && Array.isArray(err.data?.flows) ? err.data : undefined;
}

/**
 * Uploads cross-signing keys, getting the server's approval when it asks: first without any (Matrix 1.11: a first
 * upload needs none); on a 401 with flows, the account's password (asked again, used for this one request), the
 * server's account page (`m.oauth` / `org.matrix.cross_signing_reset`, servers behind an OAuth 2.0 server) or the
 * single sign-on fallback page — then retried until approved.
 */
export async function uploadWithApproval(
    makeRequest: (auth: Record<string, unknown> | null) => Promise<unknown>,
    baseUrl: string,
    userId: string,
    approval: ServerApproval | undefined,
): Promise<void> {
    let asked: AuthRequired | undefined;
    try {
        await makeRequest(null);
        return;
    } catch (e) {
        asked = authRequired(e);
        if (!asked) throw e;
    }
    const stages = new Set((asked.flows ?? []).filter((f) => f.stages?.length === 1).map((f) => f.stages![0]));
    const refuse = (why: string): never => {
        throw new KeysError(
            "approval_needed",
            `${userId}'s server asks for approval to set up recovery (${[...stages].join(", ") || "no way offered"}); ${why}`,
        );
    };
    if (!approval) refuse("run this where you can approve it, or set up recovery in Element.");
    const oauthUrl = asked.params?.["m.oauth"]?.url ?? asked.params?.["org.matrix.cross_signing_reset"]?.url;
    if ((stages.has("m.oauth") || stages.has("org.matrix.cross_signing_reset")) && oauthUrl) {
        // The server's page is opened or shown as a link: only an https (or loopback http) address.
        approval!.openPage(checkServerUrl(oauthUrl, "its approval page (m.oauth)"));
        return retryUntilApproved(() => makeRequest(null), approval!.signal);
    }
    if (stages.has("m.login.password")) {
        const password = await approval!.askPassword();
        if (!password) refuse("no password was given.");
        try {
            await makeRequest({
                type: "m.login.password",
                identifier: { type: "m.id.user", user: userId },
                password,
                session: asked.session,
            });
        } catch (e) {
            // A refused password comes back as M_FORBIDDEN (with the flows again): say so, so the person can try again.
            if ((e as { errcode?: string }).errcode === "M_FORBIDDEN") {
                throw new KeysError(
                    "approval_refused",
                    `${userId}'s server did not accept that password; recovery was not set up. Try again.`,
                );
            }
            throw e;
        }
        return;
    }
    if (stages.has("m.login.sso") && asked.session) {
        approval!.openPage(
            checkServerUrl(
                `${baseUrl}/_matrix/client/v3/auth/m.login.sso/fallback/web?session=${encodeURIComponent(asked.session)}`,
                "its single sign-on approval page",
            ),
        );
        return retryUntilApproved(() => makeRequest({ session: asked.session }), approval!.signal);
    }
    refuse("this tool cannot give that kind of approval; set up recovery in Element.");
}

async function retryUntilApproved(attempt: () => Promise<unknown>, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + APPROVAL_WAIT_MS;
    for (;;) {
        await new Promise((r) => setTimeout(r, APPROVAL_POLL_MS));
        if (signal?.aborted)
            throw new KeysError("approval_needed", "The approval was cancelled; recovery was not set up.");
        try {
            await attempt();
            return;
        } catch (e) {
            if (!authRequired(e)) throw e;
            if (Date.now() > deadline)
                throw new KeysError("approval_needed", "The approval did not arrive in time; recovery was not set up.");
        }
    }
}
