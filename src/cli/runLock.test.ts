/**
 * The CLI's run lock with real processes: a live holder refuses, a dead or unreadable one is taken over, a reused pid
 * (another boot, another start time) is stale, and nothing planted in the shared temp directory is followed.
 */
import { spawn } from "node:child_process";
import {
    existsSync,
    lstatSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import {
    MigrationRunningError,
    RunLockUnsafeError,
    currentBootId,
    processStartTime,
    runLockFile,
    takeRunLock,
} from "./runLock.ts";

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

test("the lock's runner name, written with the journal's heartbeat, is the same each time for one migration only", () => {
    const first = takeRunLock(OLD, NEW, dir);
    first.release();
    const again = takeRunLock(OLD, NEW, dir);
    again.release();
    const other = takeRunLock(OLD, "@someone-else:example.org", dir);
    other.release();
    expect(again.runner).toBe(first.runner);
    expect(other.runner).not.toBe(first.runner);
    expect(first.runner).toMatch(/^cli:[0-9a-f]{16}$/);
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

describe("a pid that was reused (issue 15.8)", () => {
    test("the lock records this boot and this process's start time", () => {
        const lock = takeRunLock(OLD, NEW, dir);
        try {
            const held = JSON.parse(readFileSync(lock.file, "utf8"));
            expect(held.bootId).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
            expect(held.startTime).toBe(processStartTime(process.pid));
            expect(held.startTime).toMatch(/^\d+$/);
        } finally {
            lock.release();
        }
    });

    test("a lock taken before a reboot is stale even though a live process has its pid now", async () => {
        const other = otherProcess();
        try {
            const file = runLockFile(OLD, NEW, dir);
            writeFileSync(
                file,
                JSON.stringify({ pid: other.pid, startedAt: Date.now(), bootId: "another-boot", startTime: "1" }),
            );
            const lock = takeRunLock(OLD, NEW, dir);
            expect(holderOf(file)).toBe(process.pid);
            lock.release();
        } finally {
            await other.kill();
        }
    });

    test("a lock whose pid now belongs to a process started at another time is stale", async () => {
        const other = otherProcess();
        try {
            const file = runLockFile(OLD, NEW, dir);
            const startTime = String(Number(processStartTime(other.pid)) - 1);
            writeFileSync(file, JSON.stringify({ pid: other.pid, startedAt: 0, bootId: currentBootId(), startTime }));
            const lock = takeRunLock(OLD, NEW, dir);
            expect(holderOf(file)).toBe(process.pid);
            lock.release();
        } finally {
            await other.kill();
        }
    });

    test("the same boot and start time: the holder still runs, the lock is refused", async () => {
        const other = otherProcess();
        try {
            const file = runLockFile(OLD, NEW, dir);
            const holder = {
                pid: other.pid,
                startedAt: 0,
                bootId: currentBootId(),
                startTime: processStartTime(other.pid),
            };
            writeFileSync(file, JSON.stringify(holder));
            expect(() => takeRunLock(OLD, NEW, dir)).toThrow(MigrationRunningError);
            expect(holderOf(file)).toBe(other.pid);
        } finally {
            await other.kill();
        }
    });

    test("a command name with spaces and parentheses does not shift the fields", async () => {
        // /proc/<pid>/stat field 2 is "(comm)", the executable's name, which may hold ") (" and spaces.
        const oddName = path.join(dir, "x) 1 2 (y");
        symlinkSync(process.execPath, oddName);
        const child = spawn(oddName, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
        try {
            await new Promise((resolve) => child.once("spawn", resolve));
            const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
            expect(stat).toContain("(x) 1 2 (y)");
            const startTime = processStartTime(child.pid!);
            expect(startTime).toBe(stat.slice(stat.indexOf("(x) 1 2 (y) ") + 12).split(" ")[19]);
            expect(Number(startTime)).toBeGreaterThanOrEqual(Number(processStartTime(process.pid)));
        } finally {
            child.kill("SIGKILL");
        }
    });
});

describe("symbolic links in the shared temp directory (issue 15.8)", () => {
    test("a symbolic link planted at the lock path is refused; its target is neither written nor removed", () => {
        const target = path.join(dir, "victim");
        writeFileSync(target, "precious");
        const file = runLockFile(OLD, NEW, dir);
        symlinkSync(target, file);
        expect(() => takeRunLock(OLD, NEW, dir)).toThrow(RunLockUnsafeError);
        expect(() => takeRunLock(OLD, NEW, dir)).toThrow(/symbolic link or not a regular file/);
        expect(readFileSync(target, "utf8")).toBe("precious");
        expect(lstatSync(file).isSymbolicLink()).toBe(true);
        expect(readdirSync(dir).sort()).toEqual([path.basename(file), "victim"].sort());
    });

    test("a dangling symbolic link at the lock path is refused too (nothing is created where it points)", () => {
        const target = path.join(dir, "created-through-the-link");
        symlinkSync(target, runLockFile(OLD, NEW, dir));
        expect(() => takeRunLock(OLD, NEW, dir)).toThrow(RunLockUnsafeError);
        expect(existsSync(target)).toBe(false);
    });

    test("links planted at the names the lock used to write first (<lock>.<pid>.new) are not written through", () => {
        const target = path.join(dir, "victim");
        writeFileSync(target, "precious");
        const file = runLockFile(OLD, NEW, dir);
        symlinkSync(target, `${file}.${process.pid}.new`);
        const lock = takeRunLock(OLD, NEW, dir);
        expect(readFileSync(target, "utf8")).toBe("precious");
        expect(lstatSync(file).isFile()).toBe(true);
        expect(statSync(file).mode & 0o777).toBe(0o600);
        lock.release();
    });
});
