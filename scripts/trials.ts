/**
 * `npm run trials`: the interruption trials (tests/proof/interruption.ts) at 20 kill points spread over a migration,
 * the page's interruption trials (tests/proof/pageInterruption.ts: the Element page's tab closed at 20 points, then
 * continued), and the fault-injection trials (tests/proof/faults.ts) over several seeds, against two fresh Synapse
 * servers of their own. `npm test` runs a reduced form of each (tests/proof/*.test.ts).
 *
 *   npm run trials [-- --points 20] [--page-points 20] [--seeds 1,2,3] [--only interruption|page|faults]
 *
 * Prints one line per trial and a tally per kind (`20 passed, 0 failed`); exits 1 if any trial failed. With
 * MIGRATE_TRIAL_LOG=/some/prefix, each fault trial's CLI output is written to /some/prefix-seedN.log with timestamps.
 * Ports: MIGRATE_BED_PORT_BASE, as for the tests.
 */
import { performance } from "node:perf_hooks";

import "../tests/bed/quietConsole.ts";

import { startHostServer } from "../host/server.ts";
import { startHomeservers } from "../tests/bed/homeservers.ts";
import { closeBrowsers } from "../tests/browser/chromium.ts";
import { type Twin, describeTrial, interruptionTrial, killPoints, runTwin } from "../tests/proof/interruption.ts";
import { describeFaultTrial, faultTrial } from "../tests/proof/faults.ts";
import { closePoints, describePageTrial, pageInterruptionTrial, runPageTwin } from "../tests/proof/pageInterruption.ts";
import { ensureMachine, run } from "./setup.ts";

const argv = process.argv.slice(2);
const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
};
const points = Number(value("--points") ?? 20);
const pagePoints = Number(value("--page-points") ?? 20);
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
    if (!only || only === "interruption") {
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
    if (!only || only === "page") {
        const started = performance.now();
        console.log(
            `\nPage interruption trials: the Element page's tab closed at ${pagePoints} points of a migration, then continued.`,
        );
        const host = await startHostServer({
            config: {
                default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
            },
        });
        try {
            const pageTwin = await runPageTwin(bed, host);
            console.log(
                `The uninterrupted twin through the page took ${(pageTwin.ms / 1000).toFixed(1)} s and sent ${pageTwin.writes} changes.`,
            );
            let passed = 0;
            const at = closePoints(pageTwin, pagePoints);
            for (const [i, write] of at.entries()) {
                const result = await pageInterruptionTrial(bed, host, pageTwin, write);
                console.log(describePageTrial(result, i));
                if (result.problems.length) failed++;
                else passed++;
            }
            console.log(
                `\nPage interruption trials: ${passed} passed, ${at.length - passed} failed (${((performance.now() - started) / 60_000).toFixed(1)} min)`,
            );
        } finally {
            await closeBrowsers();
            await host.close();
        }
    }
    if (only !== "interruption" && only !== "page") {
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
