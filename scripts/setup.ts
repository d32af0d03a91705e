/**
 * Machine set-up shared by `npm start` and `npm test`: Debian's Chromium (installed with apt when run as root,
 * otherwise a clear instruction) and the Synapse venv. Safe to call on every run: it only acts when something is
 * missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

import { ensureSynapseInstalled } from "../tests/bed/synapseInstall.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function ensureChromium(): void {
    if (existsSync(CHROMIUM_PATH)) return;
    const isRoot = process.getuid?.() === 0;
    const hasApt = spawnSync("sh", ["-c", "command -v apt-get"]).status === 0;
    if (!isRoot || !hasApt) {
        throw new Error(
            `Chromium is needed for the browser tests and was not found at ${CHROMIUM_PATH}. ` +
                "Install Debian's package (sudo apt-get install chromium) or set CHROMIUM_PATH.",
        );
    }
    console.log("Installing Debian's chromium package (first run only)…");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "chromium"], { stdio: "inherit", env });
}

export function ensureMachine(): void {
    ensureChromium();
    ensureSynapseInstalled((line) => console.log(line));
}

/** Runs a project tool (from node_modules/.bin) and throws when it fails. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
    const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env } });
    if (result.status !== 0)
        throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}
