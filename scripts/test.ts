/**
 * `npm test`: set up what is missing (Chromium, the Synapse venv), build, type-check, lint, run the whole jest suite
 * (unit, two real homeservers, headless Chromium), then prove no Synapse or Chromium process was left behind.
 * Extra arguments go to jest, e.g. `npm test -- tests/engine`.
 */
import { randomBytes } from "node:crypto";

import { ensureMachine, run } from "./setup.ts";
import { RUN_MARKER, waitForNoLeftovers } from "./leftovers.ts";

ensureMachine();
run("webpack", []);
// TypeScript 7 (the native compiler) type-checks; typescript-eslint needs the JavaScript one (5.x), which `npm run lint` uses.
run("node", ["node_modules/typescript-native/lib/tsc.js", "-p", "."]);
run("npm", ["run", "--silent", "lint"]);

// Every process the suite starts (Synapse, Chromium) inherits this marker, so leftovers can be told apart.
const runId = randomBytes(8).toString("hex");
let failed: unknown;
try {
    run("node", ["node_modules/jest/bin/jest.js", ...process.argv.slice(2)], {
        NODE_OPTIONS:
            `${process.env.NODE_OPTIONS ?? ""} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim(),
        [RUN_MARKER]: runId,
    });
} catch (e) {
    failed = e;
}

const left = await waitForNoLeftovers(runId);
if (left.length) {
    console.error(`Processes left behind by the test run:\n${left.join("\n")}`);
    process.exitCode = 1;
} else {
    console.log("Clean shutdown: no Synapse or Chromium process from this run is still running.");
}
if (failed) {
    console.error((failed as Error).message);
    process.exitCode = 1;
}
