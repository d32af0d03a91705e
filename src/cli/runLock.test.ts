/** The CLI's run lock with real processes: a live holder refuses, a dead or unreadable one is taken over. */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { MigrationRunningError, runLockFile, takeRunLock } from "./runLock.ts";

const OLD = "@alice:old.example";
const NEW = "@alice:new.example";
let dir: string;

beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "run-lock-"));
});

/** A real process that is alive until killed. */
function otherProcess() {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    return {
        pid: child.pid!,
        async kill() {
            child.kill("SIGKILL");
            await exited;
        },
    };
}

const holderOf = (file: string) => JSON.parse(readFileSync(file, "utf8")).pid as number;

test("a free lock is taken, held with this pid, and released; nothing else is left in the directory", () => {
    const lock = takeRunLock(OLD, NEW, dir);
    expect(lock.file).toBe(runLockFile(OLD, NEW, dir));
    expect(holderOf(lock.file)).toBe(process.pid);
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
});

test("a lock held by a live process is refused with that process's pid, and left as it is", async () => {
    const other = otherProcess();
    try {
        const file = runLockFile(OLD, NEW, dir);
        writeFileSync(file, JSON.stringify({ pid: other.pid, startedAt: Date.now() }));
        let error: unknown;
        try {
            takeRunLock(OLD, NEW, dir);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(MigrationRunningError);
        expect((error as MigrationRunningError).pid).toBe(other.pid);
        expect((error as Error).message).toMatch(/already running on this machine/);
        expect(holderOf(file)).toBe(other.pid);
        expect(readdirSync(dir)).toEqual([path.basename(file)]);
        // Another migration (another new account) is not held by it.
        takeRunLock(OLD, "@other:new.example", dir).release();
    } finally {
        await other.kill();
    }
});

test("a lock whose process is gone (killed with SIGKILL) is taken over at once", async () => {
    const other = otherProcess();
    await other.kill();
    const file = runLockFile(OLD, NEW, dir);
    writeFileSync(file, JSON.stringify({ pid: other.pid, startedAt: Date.now() }));
    const lock = takeRunLock(OLD, NEW, dir);
    expect(holderOf(file)).toBe(process.pid);
    lock.release();
    expect(readdirSync(dir)).toEqual([]);
});

test("an unreadable lock file is taken over; releasing a lock another process took over leaves theirs", async () => {
    const file = runLockFile(OLD, NEW, dir);
    writeFileSync(file, "");
    const lock = takeRunLock(OLD, NEW, dir);
    expect(holderOf(file)).toBe(process.pid);
    const other = otherProcess();
    try {
        writeFileSync(file, JSON.stringify({ pid: other.pid, startedAt: Date.now() }));
        lock.release();
        expect(holderOf(file)).toBe(other.pid);
    } finally {
        await other.kill();
    }
});
