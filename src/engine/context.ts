/** What every step of a running migration shares: the two accounts, the scheduler, the journal, progress. */
import type { MatrixHttp } from "../sessions/matrixHttp.ts";
import type { JournalWriter } from "./journalStore.ts";
import type { MigrationPlan } from "./plan.ts";
import type { BucketName, Scheduler } from "./scheduler.ts";

/** One account the engine acts for. */
export interface AccountSession {
    userId: string;
    http: MatrixHttp;
    /** This session's device, where known: the journal's heartbeat names it (see `runningElsewhere`). */
    deviceId?: string;
    /**
     * Invites while sharing the room's encrypted history with the invitee's devices (MSC4268), when this side runs
     * crypto (Element's client). Used in addition to the key backup, never instead of it.
     */
    inviteSharingHistory?(roomId: string, userId: string): Promise<void>;
    /**
     * Sends a message through a client that encrypts it where the room is encrypted (Element's client). Without it,
     * nothing is ever posted into an encrypted room.
     */
    sendMessage?(roomId: string, content: Record<string, unknown>, txnId: string): Promise<void>;
}

export interface MigrationSides {
    old: AccountSession;
    new: AccountSession;
}

export type StepName =
    | "profile"
    | "invite"
    | "power"
    | "join"
    | "knock"
    | "confirm"
    | "room-data"
    | "keys"
    | "leave"
    | "dm-note"
    | "direct"
    | "push-rules"
    | "ignored-users"
    | "account-data"
    | "moved-name";

export interface ProgressEvent {
    step: StepName;
    roomId?: string;
    roomName?: string;
    /** Rooms finished so far, of the rooms chosen. */
    roomsDone: number;
    roomsTotal: number;
    etaMs: number;
    /** Set when the ETA is dominated by something the user should know about (e.g. the invite limit). */
    etaExplanation?: string;
    message: string;
}

export interface MigrationContext {
    plan: MigrationPlan;
    sides: MigrationSides;
    scheduler: Scheduler;
    journal: JournalWriter;
    dryRun: boolean;
    /** Requests that change something go through here, so a dry run provably sends none. */
    write<T>(
        bucket: BucketName,
        side: AccountSession,
        method: "PUT" | "POST" | "DELETE",
        path: string,
        opts?: Parameters<MatrixHttp["request"]>[2],
    ): Promise<T | undefined>;
    /** A change made through something other than MatrixHttp (e.g. the host's own client), same pacing and dry-run rule. */
    writeWith<T>(bucket: BucketName, change: () => Promise<T>): Promise<T>;
    read<T>(
        bucket: BucketName,
        side: AccountSession,
        path: string,
        opts?: Parameters<MatrixHttp["request"]>[2],
    ): Promise<T>;
    progress(step: StepName, message: string, room?: { roomId: string; name: string }): void;
}
