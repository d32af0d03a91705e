/**
 * The real Matrix Authentication Service (MAS) for tests: `../shared/mas/` beside the checkout holds a runnable MAS
 * and its reference bed script `mas-bed.sh` (PostgreSQL 15 run as the `postgres` user, a Synapse whose auth is
 * delegated to MAS, MAS itself; users masuser1..3 with passwords mas-pass-1..3). This starts that script with its
 * own ports (MIGRATE_MAS_PORT_BASE, default 19100: +8 Synapse, +48 federation, +54 PostgreSQL, +80 MAS, +81 the
 * proxy below) and a state dir under the bed's own, and stops it with the rest (the test file's `afterAll`, and the
 * global tear-down as a safety net).
 *
 * Beside it, a loopback reverse proxy stands for a real deployment's: `/_matrix/client/<version>/login`, `/logout`
 * and `/refresh` (and their sub-paths) go to MAS's compat API, everything else to Synapse. Without it, Synapse under
 * delegation answers those with 404 and only OAuth 2.0 clients can sign in.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from "node:http";
import path from "node:path";

import { PROJECT_ROOT } from "./paths.ts";
import { BedSetupError } from "./synapseInstall.ts";

export const MAS_DIST = process.env.MIGRATE_MAS_DIR ?? path.resolve(PROJECT_ROOT, "..", "shared", "mas");
const VENV = process.env.MIGRATE_SYNAPSE_VENV ?? path.join(PROJECT_ROOT, ".cache", "synapse-venv");

export interface RealMas {
    /** Synapse's own client API (no legacy login under delegation). */
    synapseUrl: string;
    /** The same Synapse behind the loopback reverse proxy (legacy login routed to MAS's compat API). */
    proxyUrl: string;
    /** MAS: the OAuth 2.0 issuer, its pages and its compat API. */
    issuer: string;
    serverName: string;
    /** Accounts MAS knows, each with a password at MAS. */
    users: Array<{ localpart: string; userId: string; password: string }>;
    /** What reached Synapse through the proxy, in order: path, answer status, the bearer token sent (if any). */
    proxied: ProxiedRequest[];
    /** A query in MAS's own database (PostgreSQL, as its superuser); rows as arrays of column texts. */
    sql(query: string): Promise<string[][]>;
    stop(): Promise<void>;
}

export interface ProxiedRequest {
    path: string;
    status: number;
    bearer?: string;
}

export interface RealMasOptions {
    /**
     * MAS's access-token lifetime in seconds (`experimental.access_token_ttl`; MAS's default is 300), so a test can
     * outlive several tokens in seconds.
     */
    accessTokenTtl?: number;
}

function masPortBase(): number {
    const base = Number(process.env.MIGRATE_MAS_PORT_BASE ?? 19100);
    if (!Number.isInteger(base) || base < 1024 || base > 65000)
        throw new BedSetupError(`MIGRATE_MAS_PORT_BASE must be a port number between 1024 and 65000, not ${base}`);
    return base;
}

function runBedScript(action: "start" | "stop", dir: string, portBase: number, dist?: string): Promise<void> {
    const script = path.join(MAS_DIST, "mas-bed.sh");
    if (!existsSync(script))
        throw new BedSetupError(`The real MAS is missing: ${script} not found (set MIGRATE_MAS_DIR to its folder).`);
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [script, action], {
            env: {
                ...process.env,
                SYNAPSE_VENV: VENV,
                MAS_BED_DIR: dir,
                MAS_BED_PORT_BASE: String(portBase),
                ...(dist ? { MAS_DIST: dist } : {}),
            },
            stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("exit", (code) =>
            code === 0
                ? resolve()
                : reject(new BedSetupError(`mas-bed.sh ${action} failed (exit ${code}):\n${stderr.slice(-3000)}`)),
        );
    });
}

/** `/_matrix/client/<any version>/login|logout|refresh[/…]`: what a deployment sends to MAS's compat API. */
export const COMPAT_PATH = /^\/_matrix\/client\/[^/]+\/(login|logout|refresh)(\/|\?|$)/;

function startProxy(port: number, synapse: URL, mas: URL, log: ProxiedRequest[]): Promise<Server> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const target = COMPAT_PATH.test(req.url ?? "") ? mas : synapse;
        const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
        const upstream = request(
            {
                host: target.hostname,
                port: target.port,
                method: req.method,
                path: req.url,
                headers: { ...req.headers, host: target.host },
            },
            (answer) => {
                log.push({ path: req.url ?? "", status: answer.statusCode ?? 0, bearer });
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(res);
            },
        );
        upstream.on("error", () => {
            if (!res.headersSent) res.writeHead(502);
            res.end();
        });
        req.pipe(upstream);
    });
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve(server));
    });
}

function stateDirFor(stateDir: string): string {
    return path.join(stateDir, "mas");
}

/**
 * mas-bed.sh writes MAS's config itself and starts MAS right after, so a setting it does not know goes in through
 * the one door it has: MAS_DIST, the folder it takes `bin/mas-cli` and `share/` from. This builds such a folder: the
 * real `share/`, and a `bin/mas-cli` that execs the real binary (same pid, so mas-bed.sh's stop still finds it)
 * with a second config file first — MAS merges every `-c` file, and the script's own one adds nothing that clashes.
 */
function distWithExtraConfig(dir: string, extra: string): string {
    const dist = path.join(dir, "dist");
    rmSync(dist, { recursive: true, force: true });
    mkdirSync(path.join(dist, "bin"), { recursive: true });
    symlinkSync(path.join(MAS_DIST, "share"), path.join(dist, "share"));
    const extraFile = path.join(dist, "extra-config.yaml");
    writeFileSync(extraFile, extra);
    const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    writeFileSync(
        path.join(dist, "bin", "mas-cli"),
        `#!/bin/sh\nexec ${quote(path.join(MAS_DIST, "bin", "mas-cli"))} -c ${quote(extraFile)} "$@"\n`,
        { mode: 0o755 },
    );
    return dist;
}

/** Starts PostgreSQL + Synapse (delegated) + MAS (~5 s) and the proxy. `stateDir`: the bed's state dir. */
export async function startRealMas(stateDir: string, options: RealMasOptions = {}): Promise<RealMas> {
    const base = masPortBase();
    const dir = stateDirFor(stateDir);
    mkdirSync(dir, { recursive: true });
    const ttl = options.accessTokenTtl;
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0))
        throw new BedSetupError(`accessTokenTtl must be a whole number of seconds, not ${ttl}`);
    const dist =
        ttl === undefined ? undefined : distWithExtraConfig(dir, `experimental:\n  access_token_ttl: ${ttl}\n`);
    await runBedScript("start", dir, base, dist);
    const synapseUrl = `http://127.0.0.1:${base + 8}`;
    const issuer = `http://127.0.0.1:${base + 80}/`;
    const proxied: ProxiedRequest[] = [];
    let proxy: Server;
    try {
        proxy = await startProxy(base + 81, new URL(synapseUrl), new URL(issuer), proxied);
    } catch (e) {
        await runBedScript("stop", dir, base);
        throw e;
    }
    const serverName = `127.0.0.1:${base + 48}`;
    return {
        synapseUrl,
        proxyUrl: `http://127.0.0.1:${base + 81}`,
        issuer,
        serverName,
        users: [1, 2, 3].map((n) => ({
            localpart: `masuser${n}`,
            userId: `@masuser${n}:${serverName}`,
            password: `mas-pass-${n}`,
        })),
        proxied,
        sql: (query) =>
            new Promise((resolve, reject) =>
                // mas-bed.sh's PostgreSQL: trust auth on its socket dir, port base + 54.
                execFile(
                    "psql",
                    ["-h", path.join(dir, "pg"), "-p", String(base + 54), "-U", "postgres", "-d", "mas"].concat([
                        "-X",
                        "-A",
                        "-t",
                        "-F",
                        "\t",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        query,
                    ]),
                    (error, stdout, stderr) =>
                        error
                            ? reject(new Error(`psql: ${stderr || error.message}`))
                            : resolve(
                                  stdout
                                      .split("\n")
                                      .filter(Boolean)
                                      .map((line) => line.split("\t")),
                              ),
                ),
            ),
        async stop() {
            proxy.closeAllConnections();
            await new Promise<void>((resolve) => proxy.close(() => resolve()));
            await runBedScript("stop", dir, base);
        },
    };
}

/** For the global tear-down: stops a MAS bed a test file left running (mas-bed.sh stop is a no-op otherwise). */
export async function stopRealMasIfRunning(stateDir: string): Promise<void> {
    const dir = stateDirFor(stateDir);
    if (existsSync(path.join(dir, "run"))) await runBedScript("stop", dir, masPortBase());
}
