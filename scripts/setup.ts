/**
 * Machine set-up shared by `npm start` and `npm test`: Debian's Chromium, PostgreSQL and curl (installed with apt
 * when run as root, otherwise a clear instruction) and the Synapse venv. Safe to call on every run: it only acts when
 * something is missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

import { ensureSynapseInstalled } from "../tests/bed/synapseInstall.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Debian packages the tests need, each with the file that shows it is installed. */
const DEBIAN_PACKAGES: { name: string; installed: () => boolean; why: string }[] = [
    { name: "chromium", installed: () => existsSync(CHROMIUM_PATH), why: `the browser tests (or set CHROMIUM_PATH)` },
    // PostgreSQL 15 (Debian 12's) and curl: the real Matrix Authentication Service's bed (../shared/mas/mas-bed.sh).
    { name: "postgresql", installed: () => existsSync("/usr/lib/postgresql/15/bin/initdb"), why: "the MAS bed" },
    { name: "curl", installed: () => spawnSync("sh", ["-c", "command -v curl"]).status === 0, why: "the MAS bed" },
];

/** Installs the missing Debian packages with apt when run as root; otherwise says which to install. */
export function ensureDebianPackages(): void {
    const missing = DEBIAN_PACKAGES.filter((p) => !p.installed());
    if (!missing.length) return;
    const isRoot = process.getuid?.() === 0;
    const hasApt = spawnSync("sh", ["-c", "command -v apt-get"]).status === 0;
    if (!isRoot || !hasApt) {
        throw new Error(
            `Missing Debian packages: ${missing.map((p) => `${p.name} (for ${p.why})`).join(", ")}. ` +
                `Install them (sudo apt-get install ${missing.map((p) => p.name).join(" ")}).`,
        );
    }
    console.log(`Installing Debian's ${missing.map((p) => p.name).join(", ")} (first run only)…`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing.map((p) => p.name)], {
        stdio: "inherit",
        env,
    });
}

export function ensureMachine(): void {
    ensureDebianPackages();
    ensureSynapseInstalled((line) => console.log(line));
}

/** Runs a project tool (from node_modules/.bin) and throws when it fails. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
    const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env } });
    if (result.status !== 0)
        throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}
