/** The built CLI (dist/cli) as a separate process, for tests and trials: its output, its exit, and a hard kill. */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

import { PROJECT_ROOT } from "../bed/paths.ts";

export const CLI = path.join(PROJECT_ROOT, "dist", "cli", "matrix-account-migrate.js");

export interface CliRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** Each stderr line with the time it arrived (ms after the start). */
    timeline: Array<[number, string]>;
}

export interface StartedCli {
    child: ChildProcess;
    done: Promise<CliRun>;
    stderr(): string;
    /** Resolves with the first URL printed after "Sign in at: " (single sign-on, OAuth 2.0). */
    signInUrl(timeoutMs?: number): Promise<string>;
}

/**
 * Starts the CLI with only PATH, the test bed's CA (so `.well-known` discovery over TLS works) and `env` in its
 * environment. With `killAtLine`, it is killed with SIGKILL the moment its stderr (progress and messages) reaches
 * that many lines, as a crash or a closed laptop would stop it. `cli` runs another build of it (the release's).
 */
export function startCli(
    args: string[],
    env: Record<string, string>,
    options: { killAtLine?: number; cli?: string } = {},
): StartedCli {
    const bed =
        process.env.MIGRATE_BED && process.env.MIGRATE_BED !== "off"
            ? (JSON.parse(process.env.MIGRATE_BED) as { caFile?: string })
            : {};
    const child = spawn(process.execPath, [options.cli ?? CLI, ...args], {
        env: { PATH: process.env.PATH ?? "", ...(bed.caFile ? { NODE_EXTRA_CA_CERTS: bed.caFile } : {}), ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let lines = 0;
    const started = Date.now();
    const timeline: CliRun["timeline"] = [];
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d;
        const parts = d.toString().split("\n");
        for (const line of parts.slice(0, -1)) timeline.push([Date.now() - started, line]);
        lines += parts.length - 1;
        if (
            options.killAtLine !== undefined &&
            lines >= options.killAtLine &&
            child.exitCode === null &&
            child.signalCode === null
        )
            child.kill("SIGKILL");
    });
    const done = new Promise<CliRun>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, timeline })),
    );
    return {
        child,
        done,
        stderr: () => stderr,
        async signInUrl(timeoutMs = 30_000) {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const match = /Sign in at: (\S+)/.exec(stderr);
                if (match) return match[1];
                if (child.exitCode !== null || Date.now() > deadline)
                    throw new Error(`The CLI printed no "Sign in at:" line:\n${stderr}`);
                await new Promise((r) => setTimeout(r, 50));
            }
        },
    };
}

export const runCli = (args: string[], env: Record<string, string>) => startCli(args, env).done;
