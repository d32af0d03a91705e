/**
 * `npm run trials`: the interruption trials (tests/proof/interruption.ts) at 20 kill points spread over a migration,
 * and the fault-injection trials (tests/proof/faults.ts) over several seeds, against two fresh Synapse servers of
 * their own. `npm test` runs a reduced form of both (tests/proof/*.test.ts).
 *
 *   npm run trials [-- --points 20] [--seeds 1,2,3] [--only interruption|faults]
 *
 * Prints one line per trial and a tally per kind (`20 passed, 0 failed`); exits 1 if any trial failed. With
 * MIGRATE_TRIAL_LOG=/some/prefix, each fault trial's CLI output is written to /some/prefix-seedN.log with timestamps.
 * Ports: MIGRATE_BED_PORT_BASE, as for the tests.
 */
import { performance } from "node:perf_hooks";

import "../tests/bed/quietConsole.ts";

import { startHomeservers } from "../tests/bed/homeservers.ts";
import { type Twin, describeTrial, interruptionTrial, killPoints, runTwin } from "../tests/proof/interruption.ts";
import { describeFaultTrial, faultTrial } from "../tests/proof/faults.ts";
import { ensureMachine, run } from "./setup.ts";

const argv = process.argv.slice(2);
const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
};
const points = Number(value("--points") ?? 20);
const seeds = (value("--seeds") ?? "1,2,3,4,5").split(",").map(Number);
const only = value("--only");

ensureMachine();
run("webpack", []);
const bed = await startHomeservers({ limits: { kind: "functional" }, log: (l) => console.log(l) });
// The helpers read the bed like the jest tests do.
process.env.MIGRATE_BED = JSON.stringify({ a: bed.a, b: bed.b, caFile: bed.caFile, stateDir: bed.stateDir });
let failed = 0;
let twin: Twin | undefined;
try {
    if (only !== "faults") {
        const started = performance.now();
        console.log(
            `\nInterruption trials: the CLI killed with SIGKILL at ${points} points of a migration, then run again.`,
        );
        twin = await runTwin(bed);
        console.log(
            `The uninterrupted twin took ${(twin.ms / 1000).toFixed(1)} s, exit ${twin.code}; progress lines ${twin.firstProgressLine}–${twin.summaryLine}.`,
        );
        let passed = 0;
        const at = killPoints(twin!, points);
        for (const [i, line] of at.entries()) {
            const result = await interruptionTrial(bed, twin!, line);
            console.log(describeTrial(result, i));
            if (result.problems.length) failed++;
            else passed++;
        }
        console.log(
            `\nInterruption trials: ${passed} passed, ${at.length - passed} failed (${((performance.now() - started) / 60_000).toFixed(1)} min)`,
        );
    }
    if (only !== "interruption") {
        const started = performance.now();
        console.log(
            `\nFault trials: a proxy in front of each server injects faults into about 10 % of requests; seeds ${seeds.join(", ")}.`,
        );
        let passed = 0;
        twin ??= await runTwin(bed);
        for (const seed of seeds) {
            const result = await faultTrial(bed, { seed, twin });
            console.log(describeFaultTrial(result));
            if (result.problems.length) failed++;
            else passed++;
        }
        console.log(
            `\nFault trials: ${passed} passed, ${seeds.length - passed} failed (${((performance.now() - started) / 60_000).toFixed(1)} min)`,
        );
    }
} finally {
    await bed.stop();
}
process.exit(failed ? 1 : 0);
