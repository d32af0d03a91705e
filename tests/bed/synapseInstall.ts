/**
 * Finds or creates the Python venv that holds Synapse. Created on first use inside the project's ignored `.cache/`
 * folder and reused afterwards; a missing Python gives one clear error instead of a stack trace.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

import { PROJECT_ROOT } from "./paths.ts";

/** The version the project is tested with; bump deliberately. */
export const SYNAPSE_VERSION = "1.163.2";

const VENV_DIR = process.env.MIGRATE_SYNAPSE_VENV ?? path.join(PROJECT_ROOT, ".cache", "synapse-venv");
export const SYNAPSE_PYTHON = path.join(VENV_DIR, "bin", "python");

export class BedSetupError extends Error {}

function installedVersion(): string | undefined {
    if (!existsSync(SYNAPSE_PYTHON)) return undefined;
    const probe = spawnSync(
        SYNAPSE_PYTHON,
        ["-c", 'import importlib.metadata as m, synapse, authlib; print(m.version("matrix-synapse"))'],
        {
            encoding: "utf8",
        },
    );
    return probe.status === 0 ? probe.stdout.trim() : undefined;
}

function findPython(): string {
    for (const candidate of [process.env.PYTHON, "python3", "python"]) {
        if (!candidate) continue;
        const probe = spawnSync(candidate, ["-c", "import sys, venv; print(sys.version_info >= (3, 10))"], {
            encoding: "utf8",
        });
        if (probe.status === 0 && probe.stdout.trim() === "True") return candidate;
    }
    throw new BedSetupError(
        "Synapse needs Python 3.10 or newer with the venv module, and none was found. " +
            "Install it (Debian: apt-get install python3 python3-venv) or point PYTHON at one.",
    );
}

/** Returns the venv's python, installing Synapse (with its OIDC extra) first when needed. */
export function ensureSynapseInstalled(log: (line: string) => void = (l) => process.stderr.write(l + "\n")): string {
    if (installedVersion() === SYNAPSE_VERSION) return SYNAPSE_PYTHON;
    const python = findPython();
    log(`Installing Synapse ${SYNAPSE_VERSION} into ${VENV_DIR} (first run only, about a minute)…`);
    try {
        if (!existsSync(SYNAPSE_PYTHON)) execFileSync(python, ["-m", "venv", VENV_DIR], { stdio: "inherit" });
        execFileSync(
            SYNAPSE_PYTHON,
            [
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                `matrix-synapse[oidc]==${SYNAPSE_VERSION}`,
            ],
            { stdio: "inherit" },
        );
    } catch (e) {
        throw new BedSetupError(
            `Installing Synapse from PyPI failed (${(e as Error).message}). ` +
                `Check that PyPI is reachable, or remove ${VENV_DIR} and try again.`,
        );
    }
    if (installedVersion() !== SYNAPSE_VERSION) {
        throw new BedSetupError(
            `Synapse was installed into ${VENV_DIR} but does not import; remove that folder and retry.`,
        );
    }
    return SYNAPSE_PYTHON;
}
