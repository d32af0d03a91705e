/** The built CLI (dist/cli) run as a separate process, as a person or a script would run it. */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

import { currentBed } from "../bed/jestGlobal.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";

export const CLI = path.join(PROJECT_ROOT, "dist", "cli", "matrix-account-migrate.js");

export interface CliRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

export interface CliProcess {
    child: ChildProcess;
    done: Promise<CliRun>;
    stderr(): string;
    /** Resolves with the first URL printed after "Sign in at: ". */
    signInUrl(timeoutMs?: number): Promise<string>;
}

export function startCli(args: string[], env: Record<string, string>): CliProcess {
    const bed = currentBed();
    const child = spawn(process.execPath, [CLI, ...args], {
        env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: bed.caFile, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const done = new Promise<CliRun>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })));
    return {
        child,
        done,
        stderr: () => stderr,
        async signInUrl(timeoutMs = 30_000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const match = /Sign in at: (\S+)/.exec(stderr);
                if (match) return match[1];
                if (child.exitCode !== null || Date.now() > deadline) throw new Error(`The CLI printed no "Sign in at:" line:\n${stderr}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        },
    };
}

