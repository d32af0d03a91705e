/**
 * An opt-in PostgreSQL for the bed's Synapses (benchmarks that seed tens of thousands of messages: Synapse on SQLite
 * persists ~20–35 events a second here, on PostgreSQL several times that). The default bed stays on SQLite.
 *
 * One throw-away cluster per run, in the run's state folder, on loopback and a Unix socket, with durability off
 * (fsync, synchronous commit, full-page writes): the data dies with the run anyway. initdb refuses to run as root,
 * so as root the server runs as the `postgres` user. The Python driver Synapse needs (psycopg2) is installed once
 * into its own folder beside the Synapse venv, so the venv the tests use is never changed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";

import { PROJECT_ROOT } from "./paths.ts";
import { BedSetupError, SYNAPSE_PYTHON } from "./synapseInstall.ts";

const PG_BIN = process.env.MIGRATE_PG_BIN ?? "/usr/lib/postgresql/15/bin";
/** Where psycopg2 goes (put on Synapse's PYTHONPATH). */
export const POSTGRES_DRIVER_DIR = path.join(PROJECT_ROOT, ".cache", "synapse-postgres");

export interface Postgres {
    /** Synapse's `database` config for one database of this cluster. */
    synapseDatabase(name: string): Record<string, unknown>;
    /** Extra environment for a Synapse that uses it (the driver's folder). */
    env: Record<string, string>;
    stop(): void;
}

function driverImports(): boolean {
    const probe = spawnSync(SYNAPSE_PYTHON, ["-c", "import psycopg2"], {
        env: { ...process.env, PYTHONPATH: POSTGRES_DRIVER_DIR },
    });
    return probe.status === 0;
}

function ensureDriver(log: (line: string) => void): void {
    if (driverImports()) return;
    log(`Installing psycopg2 for Synapse into ${POSTGRES_DRIVER_DIR} (first use only)…`);
    try {
        execFileSync(
            SYNAPSE_PYTHON,
            [
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                POSTGRES_DRIVER_DIR,
                "psycopg2-binary",
            ],
            { stdio: "inherit" },
        );
    } catch (e) {
        throw new BedSetupError(`Installing psycopg2 from PyPI failed (${(e as Error).message}).`);
    }
    if (!driverImports())
        throw new BedSetupError(`psycopg2 was installed into ${POSTGRES_DRIVER_DIR} but does not import.`);
}

/** Starts a fresh cluster under `dir` on `port` and creates `databases` (C collation, as Synapse requires). */
export function startPostgres(dir: string, port: number, databases: string[], log: (line: string) => void): Postgres {
    if (!existsSync(path.join(PG_BIN, "initdb"))) {
        throw new BedSetupError(
            `The PostgreSQL bed needs PostgreSQL's server programs in ${PG_BIN} (Debian: apt-get install postgresql), ` +
                "or MIGRATE_PG_BIN pointing at them.",
        );
    }
    ensureDriver(log);
    const data = path.join(dir, "data");
    mkdirSync(dir, { recursive: true });
    const asRoot = process.getuid?.() === 0;
    // As root, every program runs as `postgres`, which must own the folder (and the log in it).
    const run = (program: string, args: string[]) => {
        const bin = path.join(PG_BIN, program);
        const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
        return execFileSync(cmd, argv, { stdio: "pipe", encoding: "utf8" });
    };
    if (asRoot)
        chownSync(
            dir,
            Number(execFileSync("id", ["-u", "postgres"]).toString()),
            Number(execFileSync("id", ["-g", "postgres"]).toString()),
        );
    try {
        run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
        run("pg_ctl", [
            "-D",
            data,
            "-l",
            path.join(dir, "postgres.log"),
            "-w",
            "-t",
            "60",
            "-o",
            `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off ` +
                "-c full_page_writes=off -c max_connections=200",
            "start",
        ]);
        for (const db of databases) {
            execFileSync(
                path.join(PG_BIN, "psql"),
                [
                    "-h",
                    dir,
                    "-p",
                    String(port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-q",
                    "-c",
                    `CREATE DATABASE ${db} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`,
                ],
                { stdio: "pipe" },
            );
        }
    } catch (e) {
        const err = e as { message: string; stderr?: string };
        throw new BedSetupError(`Starting the bed's PostgreSQL failed: ${err.stderr || err.message}`);
    }
    log(`PostgreSQL up on port ${port} (${data})`);
    let stopped = false;
    // PostgreSQL has no parent-death signal like the Synapse launcher: stop it when this process exits however it
    // exits through Node (a signal handler that calls process.exit reaches here too).
    process.once("exit", () => stopCluster());
    const stopCluster = () => {
        if (stopped) return;
        stopped = true;
        try {
            run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
        } catch {
            // already gone
        }
    };
    return {
        synapseDatabase: (name) => ({
            name: "psycopg2",
            args: { user: "postgres", host: dir, port, database: name, cp_min: 2, cp_max: 10 },
        }),
        env: { PYTHONPATH: POSTGRES_DRIVER_DIR },
        stop: stopCluster,
    };
}
