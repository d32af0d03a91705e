/**
 * The migration runtime inside Element, loaded (as its own chunk) only when the user starts signing in the new
 * account. The old side is Element's logged-in client — its synced state for the plan, its crypto for keys, its
 * invites for history sharing; the new side is a separate session that never touches Element's storage.
 */
import type { RoomMessageEventContent } from "matrix-js-sdk/lib/@types/events.js";
import type { MatrixClient } from "matrix-js-sdk/lib/matrix.js";

import type { AccountSession } from "../engine/context.ts";
import { JOURNAL_EVENT_TYPE, journalFor, withJournal } from "../engine/journal.ts";
import { runMigration } from "../engine/migration.ts";
import { Scheduler } from "../engine/scheduler.ts";
import { buildPlan } from "../engine/plan.ts";
import { exportKeyFile } from "../keys/keyFileExport.ts";
import { keySituation, openOldBackup, prepareKeyHandover } from "../keys/prepare.ts";
import { setUpNewAccountRecovery } from "../keys/recoverySetup.ts";
import { MatrixHttp, MatrixRequestError, orIfNotFound, seg } from "../sessions/matrixHttp.ts";
import { checkHomeserver, checkTarget, discoverHomeserver, signInWithPassword } from "../sessions/signIn.ts";
import { type SyncedClient, snapshotFromClient } from "../sessions/snapshots.ts";
import type { MigrationRuntime, NewAccountHandle } from "../ui/runtime.ts";

interface NewSession extends AccountSession {
    baseUrl: string;
    accessToken: string;
    /** Kept in memory for this page only: the server asks for it to approve a recovery set-up. */
    password: string;
}

/** Element's matrix-js-sdk errors carry errcode/httpStatus; the scheduler understands MatrixRequestError. */
function fromSdkError(e: unknown, path: string): unknown {
    const err = e as { httpStatus?: number; errcode?: string; data?: Record<string, unknown>; message?: string; getRetryAfterMs?(): number | null };
    if (typeof err?.httpStatus !== "number") return e;
    let retryAfter: number | undefined;
    try {
        retryAfter = err.getRetryAfterMs?.() ?? undefined;
    } catch {
        retryAfter = undefined;
    }
    return new MatrixRequestError("POST", path, err.httpStatus, err.errcode, (err.data?.error as string) ?? err.message, retryAfter, err.data);
}

export function createElementRuntime(client: MatrixClient, allowedServers: string[]): MigrationRuntime {
    const oldUserId = client.getUserId();
    if (!oldUserId) throw new Error("Element's client is not signed in");
    const old: AccountSession = {
        userId: oldUserId,
        // A getter: Element may refresh its access token while a long migration runs.
        http: new MatrixHttp(client.getHomeserverUrl(), () => client.getAccessToken()),
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
    const sessions = new Map<string, NewSession>();
    const session = (account: NewAccountHandle): NewSession => {
        const s = sessions.get(account.userId);
        if (!s) throw new Error("The new account is not signed in");
        return s;
    };
    const snapshot = () => snapshotFromClient(client as unknown as SyncedClient);

    return {
        async signIn({ newUserId, homeserverUrl, password }) {
            const userId = checkTarget(oldUserId, newUserId, allowedServers);
            const baseUrl = homeserverUrl ? await checkHomeserver(homeserverUrl) : await discoverHomeserver(userId.slice(userId.indexOf(":") + 1));
            const signedIn = await signInWithPassword(baseUrl, userId, password, { deviceName: "Account migration (Element)" });
            sessions.set(signedIn.userId, { userId: signedIn.userId, http: signedIn.http, baseUrl, accessToken: signedIn.accessToken, password });
            return { userId: signedIn.userId, homeserverUrl: baseUrl };
        },

        async plan(account, options) {
            return buildPlan(snapshot(), session(account).userId, options);
        },

        async keyStatus(account) {
            // A backup this tool cannot use disables only the key hand-over (with the reason); the plan still shows.
            return keySituation(old, session(account), client.getCrypto());
        },

        async setUpRecovery(account, recoveryKey) {
            const s = session(account);
            const result = await setUpNewAccountRecovery(s.http, { baseUrl: s.baseUrl, userId: s.userId, password: s.password, recoveryKey });
            return result.recoveryKey;
        },

        async exportKeyFile(plan, passphrase, choices) {
            const oldBackup = await openOldBackup({ old, oldCrypto: client.getCrypto(), oldRecoveryKey: choices.oldRecoveryKey }, []);
            const roomIds = plan.rooms.filter((r) => r.selected && r.encrypted).map((r) => r.roomId);
            return exportKeyFile({ old, roomIds, local: client.getCrypto(), oldBackup, passphrase });
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
            if (!choices.dryRun) await recordChoices(plan);
            // Pausing holds every request before it is sent; requests already under way finish.
            const whilePaused = callbacks.whilePaused;
            const scheduler = new (class extends Scheduler {
                public override async run<T>(...args: Parameters<Scheduler["run"]>): Promise<T> {
                    await whilePaused();
                    return super.run(...(args as [never, () => Promise<T>]));
                }
            })();
            // Account data (notification rules, ignored users, settings) as Element has it now, not when planned.
            return runMigration(plan, snapshot(), { old, new: neu }, {
                dryRun: choices.dryRun,
                keys: keys.handover,
                scheduler,
                onProgress: callbacks.onProgress,
                onWait: callbacks.onWait,
            });
        },

        async signOut(account) {
            const s = sessions.get(account.userId);
            sessions.delete(account.userId);
            await s?.http.request("POST", "/logout", { body: {} }).catch(() => undefined);
        },

        signOutOnPageHide(account) {
            const s = sessions.get(account.userId);
            if (!s) return;
            sessions.delete(account.userId);
            // A normal request is cancelled with the page; `keepalive` lets this one finish after the tab is gone.
            void fetch(`${s.baseUrl}/_matrix/client/v3/logout`, {
                method: "POST",
                keepalive: true,
                headers: { "Authorization": `Bearer ${s.accessToken}`, "Content-Type": "application/json" },
                body: "{}",
            }).catch(() => undefined);
        },
    };

    /** The user's choices go into the journal before anything is written, so a later page can continue this run. */
    async function recordChoices(plan: Parameters<MigrationRuntime["run"]>[1]): Promise<void> {
        const path = `/user/${seg(oldUserId!)}/account_data/${seg(JOURNAL_EVENT_TYPE)}`;
        const doc = await orIfNotFound(old.http.request("GET", path), undefined);
        const journal = journalFor(doc, plan.newUserId);
        journal.choices = {
            rooms: plan.rooms.filter((r) => r.selected).map((r) => r.roomId),
            options: plan.options,
            settings: plan.optionalAccountData.filter((o) => o.selected).map((o) => o.type),
        };
        delete journal.finishedAt;
        await old.http.request("PUT", path, { body: withJournal(doc, plan.newUserId, journal) });
    }
}
