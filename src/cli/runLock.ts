/**
 * One run of the same migration (old account → new account) at a time on this machine: a lock file in the OS temp
 * directory holding the pid of the CLI that runs it. Node has no advisory file locks, so this is hand-written: a file
 * created with `link()` (atomic, and never seen half-written) is the lock; a lock whose process is gone — the run
 * was killed with SIGKILL, the machine rebooted — is taken over at once, so a killed run can be started again right
 * away and continues where it stopped.
 *
 * A pid alone can be reused: after a reboot (or a long time) another process may have the holder's pid. The lock
 * also records the boot id (Linux: /proc/sys/kernel/random/boot_id) and the holder's start time (/proc/<pid>/stat,
 * field 22); a lock whose boot id or start time differs from what this machine says now is stale. Where /proc is
 * not readable (other systems) the pid alone decides, as before.
 *
 * The temp directory is shared: nothing here follows a symbolic link. The new lock is written to a file created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a planted file or link makes the open fail, nothing is written through it) under a
 * random name, and a lock path that is a symbolic link (or anything but a regular file) is refused with a clear error.
 *
 * Covered: two CLI runs of the same migration by anyone sharing this temp directory. Not covered: runs on different
 * machines, runs with different temp directories (another user's TMPDIR), and the Element page (a browser tab holds
 * its own lock, per browser profile): the journal and steps that are safe to repeat keep those from losing anything,
 * but they would race each other's progress.
 */
import { createHash, randomBytes } from "node:crypto";
import {
    closeSync,
    constants,
    fstatSync,
    linkSync,
    lstatSync,
    openSync,
    readFileSync,
    renameSync,
    unlinkSync,
    writeSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
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
    /**
     * This machine's lock of this migration, as the journal's heartbeat names it: whoever holds the lock knows a
     * fresh beat under this name is from a run of the same machine that is gone (killed, the machine rebooted).
     */
    runner: string;
    /** Removes the lock if this process still holds it. Never throws. */
    release(): void;
}

/** The lock path is not a plain file (a symbolic link someone planted, a directory): it is not touched. */
export class RunLockUnsafeError extends Error {
    public readonly code = "lock-unsafe";
    public constructor(public readonly file: string) {
        super(
            `The lock file ${file} is a symbolic link or not a regular file. It was not used or changed: check who ` +
                "created it, remove it, and start again.",
        );
        this.name = "RunLockUnsafeError";
    }
}

interface Holder {
    pid: number;
    startedAt: number;
    /** This machine's boot id when the lock was taken (absent where it cannot be read). */
    bootId?: string;
    /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
    startTime?: string;
}

function readProc(file: string): string | undefined {
    try {
        return readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}

/** The kernel's id of this boot, when readable. */
export function currentBootId(): string | undefined {
    return readProc("/proc/sys/kernel/random/boot_id")?.trim() || undefined;
}

/**
 * When a process started (clock ticks since boot), from /proc/<pid>/stat field 22. Field 2 is the command name in
 * parentheses and may itself hold spaces and parentheses: fields are counted from the last ")".
 */
export function processStartTime(pid: number): string | undefined {
    const stat = readProc(`/proc/${pid}/stat`);
    if (!stat) return undefined;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state), so field 22 is fields[19].
    const value = fields[19];
    return value && /^\d+$/.test(value) ? value : undefined;
}

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The lock file of one migration: named by a hash, so user ids (any characters) never reach the file system. */
export function runLockFile(oldUserId: string, newUserId: string, dir = tmpdir()): string {
    const id = createHash("sha256").update(`${oldUserId}\n${newUserId}`).digest("hex").slice(0, 32);
    return path.join(dir, `matrix-account-migrate-${id}.lock`);
}

/** Reads a lock without following a link; undefined when it is gone or unreadable (taken over then). */
function readHolder(file: string): Holder | undefined {
    let text: string;
    try {
        const fd = openSync(file, constants.O_RDONLY | NOFOLLOW);
        try {
            if (!fstatSync(fd).isFile()) return undefined;
            text = readFileSync(fd, "utf8");
        } finally {
            closeSync(fd);
        }
    } catch {
        return undefined;
    }
    try {
        const holder = JSON.parse(text) as Partial<Record<keyof Holder, unknown>>;
        if (typeof holder.pid !== "number" || !Number.isSafeInteger(holder.pid) || holder.pid <= 0) return undefined;
        return {
            pid: holder.pid,
            startedAt: Number(holder.startedAt),
            bootId: typeof holder.bootId === "string" ? holder.bootId : undefined,
            startTime: typeof holder.startTime === "string" ? holder.startTime : undefined,
        };
    } catch {
        return undefined;
    }
}

/** Refuses a lock path that is a symbolic link or not a regular file (absent is fine). */
function refuseUnsafe(file: string): void {
    try {
        if (!lstatSync(file).isFile()) throw new RunLockUnsafeError(file);
    } catch (e) {
        if (e instanceof RunLockUnsafeError) throw e;
    }
}

/** Creates `file` with this content; never follows or replaces anything already there. */
function writeExclusive(file: string, content: string): void {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW, 0o600);
    try {
        writeSync(fd, content);
    } finally {
        closeSync(fd);
    }
}

/**
 * True while the holder still runs: a process with its pid exists (EPERM: as another user's), on the same boot, with
 * the same start time. What cannot be read on this system is not held against the holder.
 */
function isAlive(holder: Holder): boolean {
    const { pid } = holder;
    if (pid === process.pid) return false; // a lock left by an earlier process that had our pid
    try {
        process.kill(pid, 0);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    const bootId = currentBootId();
    if (holder.bootId && bootId && holder.bootId !== bootId) return false; // taken before a reboot
    const startTime = processStartTime(pid);
    if (holder.startTime && startTime && holder.startTime !== startTime) return false; // the pid was reused
    return true;
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Takes the lock of this migration, or throws `MigrationRunningError` naming the process that holds it. A lock whose
 * process is gone (or that cannot be read) is taken over.
 */
export function takeRunLock(oldUserId: string, newUserId: string, dir = tmpdir()): RunLock {
    const file = runLockFile(oldUserId, newUserId, dir);
    refuseUnsafe(file);
    const holderNow: Holder = {
        pid: process.pid,
        startedAt: Date.now(),
        bootId: currentBootId(),
        startTime: processStartTime(process.pid),
    };
    // A random name nobody can plant a file or link at in advance; link() below never follows one at `file` either.
    const mine = `${file}.${randomBytes(8).toString("hex")}.new`;
    writeExclusive(mine, JSON.stringify(holderNow));
    try {
        for (let attempt = 0; attempt < 5; attempt++) {
            try {
                linkSync(mine, file);
                return {
                    file,
                    runner: `cli:${createHash("sha256").update(`${hostname()}\n${file}`).digest("hex").slice(0, 16)}`,
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
            refuseUnsafe(file);
            const holder = readHolder(file);
            if (holder && isAlive(holder)) throw new MigrationRunningError(holder.pid, oldUserId, newUserId);
            // Stale: move it aside (only one process can), and make sure what moved is the lock judged stale.
            const aside = `${file}.${randomBytes(8).toString("hex")}.stale`;
            try {
                renameSync(file, aside);
            } catch (e) {
                if (errno(e) === "ENOENT") continue; // someone else cleared it first
                throw e;
            }
            const moved = readHolder(aside);
            if (moved && moved.pid !== holder?.pid && isAlive(moved)) {
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
