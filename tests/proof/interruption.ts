/**
 * Interruption trials: the CLI killed with SIGKILL at a point of a migration, then run again, must end exactly where
 * an uninterrupted twin ends (same rooms joined at the same levels, same tags and account data, the keys in the new
 * backup, no duplicate "moved" note), and at no moment — right after the kill, and at the end — may a room be left
 * by the old account without the new account fully in its place (migrationState.ts reads all of it from the servers).
 *
 * Kill points are progress lines: the twin's run tells how many lines a whole migration writes, and each trial is
 * killed when its own output reaches one of them, so the points spread over the run (invites, levels, joins, key
 * upload, leaving, notes, account data) whatever the machine's speed.
 */
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";

import type { BedDescription } from "../bed/jestGlobal.ts";
import { stopAllClients } from "../bed/clients.ts";
import { runCli, startCli } from "../cli/cliProcess.ts";
import { migrationState, unsafeLeaves } from "./migrationState.ts";
import { buildTrialAccount, trialCli } from "./trialAccount.ts";

export interface Twin {
    state: Record<string, unknown>;
    code: number | null;
    /** Lines the run wrote before its progress started, and in all before its summary. */
    firstProgressLine: number;
    summaryLine: number;
    ms: number;
}

const lines = (text: string) => text.split("\n");

/** Migrates a fresh trial account without interruption. */
export async function runTwin(bed: BedDescription): Promise<Twin> {
    const t = await buildTrialAccount(bed);
    const { args, env } = trialCli(t, bed);
    const started = performance.now();
    const run = await runCli(args, env);
    const ms = performance.now() - started;
    if (run.code !== 0 && run.code !== 3)
        throw new Error(`The uninterrupted run failed (exit ${run.code}):\n${run.stderr}`);
    const out = lines(run.stderr);
    const firstProgressLine = out.findIndex((l) => /^\[\d+\/\d+\]/.test(l));
    const summaryLine = out.findIndex((l) => /^Rooms: \d+ migrated/.test(l));
    const unsafe = await unsafeLeaves(t);
    if (unsafe.length) throw new Error(`The uninterrupted run left rooms unsafely:\n${unsafe.join("\n")}`);
    return { state: await migrationState(t), code: run.code, firstProgressLine, summaryLine, ms };
}

/** Kill points spread evenly over the twin's progress, from its first progress line to its last before the summary. */
export function killPoints(twin: Twin, count: number): number[] {
    const span = twin.summaryLine - twin.firstProgressLine;
    return Array.from(
        { length: count },
        (_, i) => twin.firstProgressLine + 1 + Math.round(((i + 0.5) / count) * (span - 1)),
    );
}

export interface TrialResult {
    killAtLine: number;
    /** The last line written before the kill, and when the kill came. */
    killedAfter: { line: string; ms: number } | undefined;
    problems: string[];
}

/** Describes where two states differ (first few paths). */
export function differences(a: unknown, b: unknown, at = "", out: string[] = []): string[] {
    if (out.length >= 8) return out;
    if (isDeepStrictEqual(a, b)) return out;
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
        for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
            differences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${at}.${key}`, out);
        return out;
    }
    out.push(`${at || "state"}: ${JSON.stringify(a)} instead of ${JSON.stringify(b)}`);
    return out;
}

export async function interruptionTrial(bed: BedDescription, twin: Twin, killAtLine: number): Promise<TrialResult> {
    const problems: string[] = [];
    const t = await buildTrialAccount(bed);
    try {
        const { args, env } = trialCli(t, bed);
        const started = performance.now();
        const first = await startCli(args, env, { killAtLine }).done;
        const ms = performance.now() - started;
        const killedAfter =
            first.signal === "SIGKILL" ? { line: lines(first.stderr).filter(Boolean).at(-1) ?? "", ms } : undefined;
        if (!killedAfter)
            problems.push(`the run ended (exit ${first.code}) before line ${killAtLine}, so it was not interrupted`);
        for (const p of await unsafeLeaves(t)) problems.push(`right after the kill: ${p}`);

        const second = await runCli(args, env);
        if (second.code !== twin.code)
            problems.push(
                `the resumed run exited ${second.code}, the uninterrupted one ${twin.code}: ${lines(second.stderr).slice(-6).join(" | ")}`,
            );
        for (const p of await unsafeLeaves(t)) problems.push(`after resuming: ${p}`);
        for (const d of differences(await migrationState(t), twin.state))
            problems.push(`differs from the uninterrupted twin: ${d}`);
        return { killAtLine, killedAfter, problems };
    } finally {
        await stopAllClients();
    }
}

/** One line per trial, for a log: where it was killed and what was wrong. */
export function describeTrial(r: TrialResult, index: number): string {
    const where = r.killedAfter
        ? `killed at line ${r.killAtLine} after ${(r.killedAfter.ms / 1000).toFixed(1)} s (“${r.killedAfter.line.slice(0, 90)}”)`
        : `kill point line ${r.killAtLine}`;
    return `trial ${index + 1}: ${r.problems.length ? "FAILED" : "passed"} — ${where}${r.problems.map((p) => `\n    ${p}`).join("")}`;
}
