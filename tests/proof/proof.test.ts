/**
 * The reduced form of `npm run trials` (scripts/trials.ts), against the suite's two real servers: the CLI killed with
 * SIGKILL at 3 points of a migration and run again ends exactly where an uninterrupted twin ends, never leaving a room
 * unsafely (tests/proof/interruption.ts); and one run through fault proxies injecting 5xx, dropped connections,
 * stalled answers and 429 bursts into about 10 % of requests ends there too (tests/proof/faults.ts).
 */
import { currentBed } from "../bed/jestGlobal.ts";
import { describeFaultTrial, faultTrial } from "./faults.ts";
import { type Twin, describeTrial, interruptionTrial, killPoints, runTwin } from "./interruption.ts";

let twin: Twin;

beforeAll(async () => {
    twin = await runTwin(currentBed());
}, 180_000);

describe("killed with SIGKILL and run again, the CLI ends where an uninterrupted run ends", () => {
    // Early (invites and joins), middle (levels, keys, notes), late (leaving, account data).
    test.each([0, 1, 2])(
        "kill point %i of 3",
        async (i) => {
            const result = await interruptionTrial(currentBed(), twin, killPoints(twin, 3)[i]!);
            expect({ trial: describeTrial(result, i), problems: result.problems }).toMatchObject({ problems: [] });
            expect(result.killedAfter).toBeDefined();
        },
        180_000,
    );
});

test("through proxies that inject faults into about 10 % of requests (seed 2), the migration completes with the same state", async () => {
    const result = await faultTrial(currentBed(), { seed: 2, twin });
    expect({ trial: describeFaultTrial(result), problems: result.problems }).toMatchObject({ problems: [] });
    expect(Object.values(result.injected).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
}, 420_000);
