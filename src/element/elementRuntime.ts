/**
 * The migration runtime inside Element, loaded (as its own chunk) only when the user starts signing in the new
 * account. The old side is Element's logged-in client — its synced state for the plan, its crypto for keys, its
 * invites for history sharing; the new side is a separate session that never touches Element's storage.
 */
import type { RoomMessageEventContent } from "matrix-js-sdk/lib/@types/events.js";
import type { MatrixClient } from "matrix-js-sdk/lib/matrix.js";

import type { AccountSession } from "../engine/context.ts";
import { recordChoices } from "../engine/journalStore.ts";
import { runMigration } from "../engine/migration.ts";
import { Scheduler } from "../engine/scheduler.ts";
import { previewPlanHistory } from "../engine/history.ts";
import {
    HtmlHistoryWriter,
    JsonHistoryWriter,
    type TextOut,
    exportFileBase,
    exportRoomsHistory,
} from "../engine/historyExport.ts";
import { buildPlan } from "../engine/plan.ts";
import { exportKeyFile } from "../keys/keyFileExport.ts";
import { keySituation, openOldBackup, prepareKeyHandover } from "../keys/prepare.ts";
import { endRecoverySetup, setUpNewAccountRecovery } from "../keys/recoverySetup.ts";
import {
    type SignInDiscovery,
    type TargetPolicy,
    discoverSignIn,
    resolveNewHomeserver,
} from "../sessions/discovery.ts";
import { MatrixHttp, MatrixRequestError } from "../sessions/matrixHttp.ts";
import type { SignedInSession } from "../sessions/session.ts";
import { type SignInRequest, checkTarget, signIn } from "../sessions/signIn.ts";
import { type SyncedClient, snapshotFromClient } from "../sessions/snapshots.ts";
import type { MigrationRuntime, NewAccountHandle } from "../ui/runtime.ts";
import { elementEventDecryptor } from "./historyDecryptor.ts";
import { popupBrowser } from "./signInWindow.ts";

const DEVICE_NAME = "Account migration (Element)";

/** Element's matrix-js-sdk errors carry errcode/httpStatus; the scheduler understands MatrixRequestError. */
function fromSdkError(e: unknown, path: string): unknown {
    const err = e as {
        httpStatus?: number;
        errcode?: string;
        data?: Record<string, unknown>;
        message?: string;
        getRetryAfterMs?(): number | null;
    };
    if (typeof err?.httpStatus !== "number") return e;
    let retryAfter: number | undefined;
    try {
        retryAfter = err.getRetryAfterMs?.() ?? undefined;
    } catch {
        retryAfter = undefined;
    }
    return new MatrixRequestError(
        "POST",
        path,
        err.httpStatus,
        err.errcode,
        (err.data?.error as string) ?? err.message,
        retryAfter,
        err.data,
    );
}

export interface ElementRuntimeOptions extends TargetPolicy {
    /** The module's callback page (dist/module/callback.html), on Element's origin. */
    callbackUrl: string;
}

export function createElementRuntime(client: MatrixClient, options: ElementRuntimeOptions): MigrationRuntime {
    const oldUserId = client.getUserId();
    if (!oldUserId) throw new Error("Element's client is not signed in");
    const old: AccountSession = {
        userId: oldUserId,
        deviceId: client.getDeviceId() ?? undefined,
        // A getter: Element may refresh its access token while a long migration runs. When the server calls the token
        // we sent unknown and Element still holds it, one request through Element's own client lets it refresh (its
        // http layer does that on M_UNKNOWN_TOKEN); the request is then repeated once with the token it holds now.
        http: new MatrixHttp(
            client.getHomeserverUrl(),
            () => client.getAccessToken(),
            undefined,
            undefined,
            async () => {
                await client.whoami();
            },
        ),
        inviteSharingHistory: async (roomId, userId) => {
            try {
                await client.invite(roomId, userId);
            } catch (e) {
                throw fromSdkError(e, `/rooms/${roomId}/invite`);
            }
        },
        // Element's client encrypts in encrypted rooms: the "moved" note never goes there as plain text.
        sendMessage: async (roomId, content, txnId) => {
            try {
                await client.sendMessage(roomId, content as unknown as RoomMessageEventContent, txnId);
            } catch (e) {
                throw fromSdkError(e, `/rooms/${roomId}/send`);
            }
        },
    };
    const sessions = new Map<string, SignedInSession>();
    /** What discovery found, kept for the sign-in that follows (OAuth 2.0 metadata is not shown to the page). */
    const discoveries = new Map<string, SignInDiscovery>();
    const session = (account: NewAccountHandle): SignedInSession => {
        const s = sessions.get(account.userId);
        if (!s) throw new Error("The new account is not signed in");
        return s;
    };
    const snapshot = () => snapshotFromClient(client as unknown as SyncedClient);

    return {
        async discover({ newUserId, homeserverUrl }) {
            const userId = checkTarget(oldUserId, newUserId, options.allowedServers);
            const baseUrl = await resolveNewHomeserver(userId, homeserverUrl, options);
            const found = await discoverSignIn(userId, baseUrl);
            discoveries.set(userId, found);
            return found.offer;
        },

        async signIn(offer, input) {
            const found = discoveries.get(offer.userId);
            if (!found || found.offer.baseUrl !== offer.baseUrl)
                throw new Error("Sign-in was not prepared for this account");
            const origin = window.location.origin;
            const oauthClient = { clientName: DEVICE_NAME, clientUri: `${origin}/`, applicationType: "web" as const };
            let request: SignInRequest;
            switch (input.method) {
                case "password":
                case "token":
                    request = input;
                    break;
                case "sso":
                    request = {
                        method: "sso",
                        idpId: input.idpId,
                        browser: popupBrowser(input.window, options.callbackUrl),
                    };
                    break;
                case "oauth":
                    request = {
                        method: "oauth",
                        client: oauthClient,
                        browser: popupBrowser(input.window, options.callbackUrl),
                    };
                    break;
                case "device":
                    request = {
                        method: "device",
                        client: { ...oauthClient, redirectUri: options.callbackUrl },
                        onCode: input.onCode,
                        signal: input.signal,
                    };
                    break;
            }
            const signedIn = await signIn(found, request, { deviceName: DEVICE_NAME });
            const previous = sessions.get(signedIn.userId);
            if (previous) await endRecoverySetup(previous);
            if (previous?.temporary) await previous.signOut();
            sessions.set(signedIn.userId, signedIn);
            return { userId: signedIn.userId, homeserverUrl: signedIn.baseUrl };
        },

        async plan(account, options) {
            // What each room hides from newcomers: read as the old account before anything changes.
            return previewPlanHistory(buildPlan(snapshot(), session(account).userId, options), (path, query) =>
                old.http.request("GET", path, { query }),
            );
        },

        async keyStatus(account) {
            // A backup this tool cannot use disables only the key hand-over (with the reason); the plan still shows.
            return keySituation(old, session(account), client.getCrypto());
        },

        async setUpRecovery(account, recoveryKey, approval) {
            const s = session(account);
            const result = await setUpNewAccountRecovery(s.http, {
                session: s,
                recoveryKey,
                approval: {
                    askPassword: approval.askPassword,
                    openPage: approval.showApprovalPage,
                    signal: approval.signal,
                },
            });
            return result.recoveryKey;
        },

        async exportKeyFile(plan, passphrase, choices) {
            const oldBackup = await openOldBackup(
                { old, oldCrypto: client.getCrypto(), oldRecoveryKey: choices.oldRecoveryKey },
                [],
            );
            const roomIds = plan.rooms.filter((r) => r.selected && r.encrypted).map((r) => r.roomId);
            return exportKeyFile({ old, roomIds, local: client.getCrypto(), oldBackup, passphrase });
        },

        async exportHiddenHistory(plan, roomIds, choices, words, onProgress) {
            const wanted = roomIds ? new Set(roomIds) : undefined;
            const rooms = plan.rooms
                .filter((r) => r.hiddenHistory && (wanted ? wanted.has(r.roomId) : r.selected))
                .map((r) => ({ roomId: r.roomId, name: r.name, periods: r.hiddenHistory!.periods }));
            // The old backup, for keys Element's session lacks: opened with the old recovery key or the session's key.
            const backup = await openOldBackup(
                { old, oldCrypto: client.getCrypto(), oldRecoveryKey: choices.oldRecoveryKey },
                [],
            ).catch(() => undefined);
            const get = <T>(path: string, query?: Record<string, string | number | undefined>) =>
                old.http.request<T>("GET", path, { query });
            const json = blobCollector("application/json");
            const html = blobCollector("text/html");
            const summaries = await exportRoomsHistory(
                get,
                rooms,
                [new JsonHistoryWriter(json.out, { exportedBy: oldUserId! }), new HtmlHistoryWriter(html.out, words)],
                { decryptor: elementEventDecryptor(client, backup && { ...backup, get }), onProgress },
            );
            const base = rooms.length === 1 ? exportFileBase(rooms[0]!.roomId) : "hidden-history";
            const files = [
                { name: `${base}.json`, blob: json.blob() },
                { name: `${base}.html`, blob: html.blob() },
            ];
            return {
                files,
                rooms: rooms.map((r) => ({
                    roomId: r.roomId,
                    name: r.name,
                    files: files.map((f) => f.name),
                    ...summaries.get(r.roomId)!,
                })),
            };
        },

        async run(account, plan, choices, callbacks) {
            const neu = session(account);
            const keys = await prepareKeyHandover({
                old,
                new: neu,
                oldCrypto: client.getCrypto(),
                oldRecoveryKey: choices.oldRecoveryKey,
                newRecoveryKey: choices.newRecoveryKey,
                trustUnverifiedNewBackup: choices.trustUnverifiedNewBackup,
                dryRun: choices.dryRun,
            });
            if (!choices.dryRun) await recordChoices(old, plan, undefined, client.getDeviceId());
            // Pausing holds every request before it is sent; requests already under way finish.
            const scheduler = new Scheduler({ whilePaused: callbacks.whilePaused });
            // Account data (notification rules, ignored users, settings) as Element has it now, not when planned.
            return runMigration(
                plan,
                snapshot(),
                { old, new: neu },
                {
                    dryRun: choices.dryRun,
                    keys: keys.handover,
                    scheduler,
                    onProgress: callbacks.onProgress,
                    onWait: callbacks.onWait,
                },
            );
        },

        // Only the session this module created goes: an access token the person gave stays theirs.
        async signOut(account) {
            const s = sessions.get(account.userId);
            sessions.delete(account.userId);
            if (s) await endRecoverySetup(s);
            if (s?.temporary) await s.signOut();
        },

        signOutOnPageHide(account) {
            const s = sessions.get(account.userId);
            if (!s?.temporary) return;
            sessions.delete(account.userId);
            void endRecoverySetup(s);
            // Requests with `keepalive`, which outlive the tab: a logout, and for OAuth 2.0 the token revocation too.
            s.signOutOnPageHide();
        },
    };
}

/**
 * Text gathered into a Blob as it comes: every thousand pieces become one Blob part, which the browser may keep out of
 * the page's memory (a large room is never one string).
 */
function blobCollector(type: string): { out: TextOut; blob(): Blob } {
    const parts: Blob[] = [];
    let pending: string[] = [];
    const seal = () => {
        if (pending.length) parts.push(new Blob(pending));
        pending = [];
    };
    return {
        out: (chunk) => {
            pending.push(chunk);
            if (pending.length >= 1000) seal();
        },
        blob: () => {
            seal();
            return new Blob(parts, { type });
        },
    };
}
