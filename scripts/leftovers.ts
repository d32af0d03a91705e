/**
 * Lists processes a test run left behind: Synapse servers and Chromium browsers. The run is recognised by a marker
 * in the environment every process it starts inherits, so other runs on the same machine are not counted.
 */
import { readdirSync, readFileSync } from "node:fs";

export const RUN_MARKER = "MIGRATE_TEST_RUN_ID";

export function leftoverProcesses(runId: string): string[] {
    const found: string[] = [];
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let cmdline = "";
        try {
            cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
        } catch {
            continue;
        }
        let environ = "";
        try {
            environ = readFileSync(`/proc/${pid}/environ`, "utf8");
        } catch {
            continue;
        }
        if (!environ.split("\0").includes(`${RUN_MARKER}=${runId}`)) continue;
        if (cmdline.includes("synapse.app.homeserver") || /chrom/.test(cmdline))
            found.push(`${pid} ${cmdline.slice(0, 160)}`);
    }
    return found;
}

/** Waits up to `timeoutMs` for processes to finish exiting; returns what is still there. */
export async function waitForNoLeftovers(runId: string, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let left = leftoverProcesses(runId);
    while (left.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        left = leftoverProcesses(runId);
    }
    return left;
}
