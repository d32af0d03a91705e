/**
 * Lists processes a run of this project left behind: Synapse servers from the test bed and Chromium browsers
 * started with a test profile. Used after the test suite to prove clean shutdown.
 */
import { readdirSync, readFileSync } from "node:fs";

import { BED_STATE_ROOT } from "../tests/bed/paths.ts";

export function leftoverProcesses(): string[] {
    const found: string[] = [];
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let cmdline = "";
        try {
            cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
        } catch {
            continue;
        }
        const isBedSynapse = cmdline.includes("synapse.app.homeserver") && cmdline.includes(BED_STATE_ROOT);
        const isTestChromium = /chrom/.test(cmdline) && cmdline.includes("migration-chromium-");
        if (isBedSynapse || isTestChromium) found.push(`${pid} ${cmdline.slice(0, 160)}`);
    }
    return found;
}

/** Waits up to `timeoutMs` for processes to finish exiting; returns what is still there. */
export async function waitForNoLeftovers(timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let left = leftoverProcesses();
    while (left.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        left = leftoverProcesses();
    }
    return left;
}
