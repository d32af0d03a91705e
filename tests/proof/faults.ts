/**
 * Fault-injection trials: the CLI migrates a trial account (trialAccount.ts) through a fault proxy in front of each
 * server (tests/bed/faultProxy.ts) that injects 5xx answers, dropped connections (before the server sees the request,
 * and after it carried it out), stalled answers and bursts of 429 into about 10 % of requests. The migration must
 * complete in one run, with the same exit code and the same final state as an uninterrupted, fault-free twin, with no
 * room left unsafely at any point, within a bounded time. It signs in with access tokens: a password sign-in (a POST)
 * is not repeated when its answer is lost, so a fault there ends the run with "nothing was changed".
 *
 * Seeded and reproducible: whether a request meets a fault, and which, is a hash of the seed, the request's method
 * and path (room and user ids left out, so every copy of the fixture meets the same faults) and how many times such a
 * request was seen — not of the clock. Requests that run side by side may still arrive in another order.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

import { stopAllClients } from "../bed/clients.ts";
import { type Fault, type FaultProxy, startFaultProxy } from "../bed/faultProxy.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import { startCli } from "../cli/cliProcess.ts";
import { type Twin, differences, runTwin } from "./interruption.ts";
import { migrationState, unsafeLeaves } from "./migrationState.ts";
import { buildTrialAccount, trialCli } from "./trialAccount.ts";

/**
 * 32-bit FNV-1a with murmur3's final mix: a stable hash (a seed means the same faults in every run) whose every bit
 * changes with the last character (the attempt number), so retries of one request draw independently.
 */
function hash(text: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
}

/** The share of fault starts that open a burst of 429s, and a burst's mean length: fault starts are scaled so the
 *  requests that meet a fault come to `rate` in all. */
const BURST_SHARE = 0.15;
const MEAN_BURST = 3.5;

export function seededFaults(seed: number, rate = 0.1): (method: string, path: string) => Fault | undefined {
    const seen = new Map<string, number>();
    const start = rate / (1 - BURST_SHARE + BURST_SHARE * MEAN_BURST);
    let burstLeft = 0;
    let burstRetryMs = 0;
    return (method, path) => {
        // Ids and queries differ from one copy of the fixture to the next; the kind of request does not.
        const key = `${method} ${path
            .split("?")[0]!
            .replace(/[!@$][^/]+/g, (id) => id[0]!)
            .replace(/account-migration-note-[^/]+/, "note")}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        if (burstLeft > 0) {
            burstLeft--;
            return { kind: "rate-limit", retryAfterMs: burstRetryMs };
        }
        const draw = (salt: string) => hash(`${seed}|${salt}|${key}|${n}`) / 2 ** 32;
        if (draw("fault") >= start) return undefined;
        const kind = draw("kind");
        if (kind < 0.3) return { kind: "error", status: [500, 502, 503, 504][Math.floor(draw("status") * 4)]! };
        if (kind < 0.5) return { kind: "drop-request" };
        if (kind < 0.7) return { kind: "drop-answer" };
        if (kind < 1 - BURST_SHARE) return { kind: "delay", ms: 1000 + Math.floor(draw("delay") * 4000) };
        burstLeft = 1 + Math.floor(draw("burst") * 4); // this request and 1–4 more: a mean of 3.5
        burstRetryMs = 300 + Math.floor(draw("retry") * 1700);
        return { kind: "rate-limit", retryAfterMs: burstRetryMs };
    };
}

export interface FaultTrialResult {
    seed: number;
    ms: number;
    requests: number;
    injected: Record<string, number>;
    problems: string[];
}

/** A run is bounded: the fault-free twin's time plus generous room for every retry the faults cause. */
export const FAULT_RUN_BOUND_MS = 6 * 60_000;

export async function faultTrial(
    bed: BedDescription,
    options: { seed: number; rate?: number; twin?: Twin },
): Promise<FaultTrialResult> {
    const twin = options.twin ?? (await runTwin(bed));
    const t = await buildTrialAccount(bed);
    const proxies: FaultProxy[] = [];
    const problems: string[] = [];
    try {
        // Each server gets its own seed, so the two see different faults.
        proxies.push(await startFaultProxy(bed.a.baseUrl, seededFaults(options.seed * 2, options.rate)));
        proxies.push(await startFaultProxy(bed.b.baseUrl, seededFaults(options.seed * 2 + 1, options.rate)));
        // Access tokens: a password sign-in whose answer is lost is not tried again (it may have made a session).
        const { args, env } = trialCli(t, bed, "token");
        const viaProxies = args.map((a) =>
            a === bed.a.baseUrl ? proxies[0]!.baseUrl : a === bed.b.baseUrl ? proxies[1]!.baseUrl : a,
        );
        const started = performance.now();
        const cli = startCli(viaProxies, env);
        const bound = setTimeout(() => cli.child.kill("SIGKILL"), FAULT_RUN_BOUND_MS);
        const run = await cli.done.finally(() => clearTimeout(bound));
        const ms = performance.now() - started;
        if (process.env.MIGRATE_TRIAL_LOG)
            writeFileSync(
                `${process.env.MIGRATE_TRIAL_LOG}-seed${options.seed}.log`,
                run.timeline.map(([t, l]) => `${(t / 1000).toFixed(1)} ${l}`).join("\n"),
            );
        if (run.signal === "SIGKILL") problems.push(`the run did not end within ${FAULT_RUN_BOUND_MS / 60_000} min`);
        else if (run.code !== twin.code)
            problems.push(
                `exit ${run.code} instead of ${twin.code}: ${run.stderr.split("\n").filter(Boolean).slice(-8).join(" | ")}`,
            );
        for (const p of await unsafeLeaves(t)) problems.push(p);
        for (const d of differences(await migrationState(t), twin.state))
            problems.push(`differs from the fault-free twin: ${d}`);
        const injected: Record<string, number> = {};
        for (const { fault } of proxies.flatMap((p) => p.injected)) {
            const name = fault.kind === "error" ? `${fault.status}` : fault.kind;
            injected[name] = (injected[name] ?? 0) + 1;
        }
        return { seed: options.seed, ms, requests: proxies.reduce((a, p) => a + p.requests(), 0), injected, problems };
    } finally {
        await Promise.all(proxies.map((p) => p.close()));
        await stopAllClients();
    }
}

export function describeFaultTrial(r: FaultTrialResult): string {
    const faults = Object.values(r.injected).reduce((a, b) => a + b, 0);
    const kinds = Object.entries(r.injected)
        .map(([k, v]) => `${v}× ${k}`)
        .join(", ");
    return (
        `seed ${r.seed}: ${r.problems.length ? "FAILED" : "passed"} in ${(r.ms / 1000).toFixed(1)} s — ${faults} of ${r.requests} requests met a fault ` +
        `(${((100 * faults) / Math.max(1, r.requests)).toFixed(1)} %: ${kinds})${r.problems.map((p) => `\n    ${p}`).join("")}`
    );
}
