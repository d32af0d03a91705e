/**
 * One run of the same migration (old account → new account) at a time on this machine: a lock file in the OS temp
 * directory holding the pid of the CLI that runs it. Node has no advisory file locks, so this is hand-written: a file
 * created with `link()` (atomic, and never seen half-written) is the lock; a lock whose process is gone — the run
 * was killed with SIGKILL, the machine rebooted — is taken over at once, so a killed run can be started again right
 * away and continues where it stopped.
 *
 * Covered: two CLI runs of the same migration by anyone sharing this temp directory. Not covered: runs on different
 * machines, runs with different temp directories (another user's TMPDIR), and the Element page (a browser tab holds
 * its own lock, per browser profile): the journal and steps that are safe to repeat keep those from losing anything,
 * but they would race each other's progress.
 */
import { createHash } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Another process runs this migration right now; nothing was changed by this one. */
export class MigrationRunningError extends Error {
    public readonly code = "running-elsewhere";
    public constructor(
        public readonly pid: number,
        oldUserId: string,
        newUserId: string,
    ) {
        super(
            `The migration from ${oldUserId} to ${newUserId} is already running on this machine (process ${pid}). ` +
                "Wait for it to finish, or stop it: a stopped migration continues where it stopped when started again.",
        );
        this.name = "MigrationRunningError";
    }
}

export interface RunLock {
    file: string;
    /** Removes the lock if this process still holds it. Never throws. */
    release(): void;
}

interface Holder {
    pid: number;
    startedAt: number;
}

/** The lock file of one migration: named by a hash, so user ids (any characters) never reach the file system. */
export function runLockFile(oldUserId: string, newUserId: string, dir = tmpdir()): string {
    const id = createHash("sha256").update(`${oldUserId}\n${newUserId}`).digest("hex").slice(0, 32);
    return path.join(dir, `matrix-account-migrate-${id}.lock`);
}

function readHolder(file: string): Holder | undefined {
    try {
        const holder = JSON.parse(readFileSync(file, "utf8")) as Partial<Holder>;
        return typeof holder.pid === "number" ? { pid: holder.pid, startedAt: Number(holder.startedAt) } : undefined;
    } catch {
        return undefined;
    }
}

/** True while a process with this pid exists (EPERM: it exists, as another user's). */
function isAlive(pid: number): boolean {
    if (pid === process.pid) return false; // a lock left by an earlier process that had our pid
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Takes the lock of this migration, or throws `MigrationRunningError` naming the process that holds it. A lock whose
 * process is gone (or that cannot be read) is taken over.
 */
export function takeRunLock(oldUserId: string, newUserId: string, dir = tmpdir()): RunLock {
    const file = runLockFile(oldUserId, newUserId, dir);
    const mine = `${file}.${process.pid}.new`;
    writeFileSync(mine, JSON.stringify({ pid: process.pid, startedAt: Date.now() } satisfies Holder), { mode: 0o600 });
    try {
        for (let attempt = 0; attempt < 5; attempt++) {
            try {
                linkSync(mine, file);
                return {
                    file,
                    release() {
                        if (readHolder(file)?.pid !== process.pid) return;
                        try {
                            unlinkSync(file);
                        } catch {
                            // Already gone: nothing to release.
                        }
                    },
                };
            } catch (e) {
                if (errno(e) !== "EEXIST") throw e;
            }
            const holder = readHolder(file);
            if (holder && isAlive(holder.pid)) throw new MigrationRunningError(holder.pid, oldUserId, newUserId);
            // Stale: move it aside (only one process can), and make sure what moved is the lock judged stale.
            const aside = `${file}.${process.pid}.stale`;
            try {
                renameSync(file, aside);
            } catch (e) {
                if (errno(e) === "ENOENT") continue; // someone else cleared it first
                throw e;
            }
            const moved = readHolder(aside);
            if (moved && moved.pid !== holder?.pid && isAlive(moved.pid)) {
                // Another process took the stale lock over between our read and our rename: it is theirs.
                try {
                    linkSync(aside, file);
                } catch {
                    // A third process took it meanwhile; it holds the lock now.
                }
                unlinkSync(aside);
                throw new MigrationRunningError(moved.pid, oldUserId, newUserId);
            }
            unlinkSync(aside);
        }
        throw new Error(`Could not take the lock ${file}: it keeps changing`);
    } finally {
        unlinkSync(mine);
    }
}
