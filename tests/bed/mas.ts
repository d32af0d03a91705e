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
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
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
    stop(): Promise<void>;
}

function masPortBase(): number {
    const base = Number(process.env.MIGRATE_MAS_PORT_BASE ?? 19100);
    if (!Number.isInteger(base) || base < 1024 || base > 65000)
        throw new BedSetupError(`MIGRATE_MAS_PORT_BASE must be a port number between 1024 and 65000, not ${base}`);
    return base;
}

function runBedScript(action: "start" | "stop", dir: string, portBase: number): Promise<void> {
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

function startProxy(port: number, synapse: URL, mas: URL): Promise<Server> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const target = COMPAT_PATH.test(req.url ?? "") ? mas : synapse;
        const upstream = request(
            {
                host: target.hostname,
                port: target.port,
                method: req.method,
                path: req.url,
                headers: { ...req.headers, host: target.host },
            },
            (answer) => {
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

/** Starts PostgreSQL + Synapse (delegated) + MAS (~5 s) and the proxy. `stateDir`: the bed's state dir. */
export async function startRealMas(stateDir: string): Promise<RealMas> {
    const base = masPortBase();
    const dir = stateDirFor(stateDir);
    mkdirSync(dir, { recursive: true });
    await runBedScript("start", dir, base);
    const synapseUrl = `http://127.0.0.1:${base + 8}`;
    const issuer = `http://127.0.0.1:${base + 80}/`;
    let proxy: Server;
    try {
        proxy = await startProxy(base + 81, new URL(synapseUrl), new URL(issuer));
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
