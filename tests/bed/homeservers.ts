/**
 * Two real Synapse homeservers on loopback that federate with each other over TLS (a private CA made per run).
 *
 * Server A is named `localhost:<port>` and server B `127.0.0.1:<port>`: Synapse's server ACLs match host names
 * without the port, so naming them differently lets a room deny one server and not the other.
 *
 * Each run gets fresh state (new folder, new sqlite files). Synapse is started through a small Python launcher that
 * asks the kernel to SIGTERM it when the process that spawned it dies, so no homeserver outlives a crashed or killed
 * test run; `stop()` is the normal, graceful path.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import { BED_STATE_ROOT } from "./paths.ts";
import { type Postgres, startPostgres } from "./postgres.ts";
import { type LimitsProfile, rateLimitConfig } from "./rateLimits.ts";
import { BedSetupError, ensureSynapseInstalled } from "./synapseInstall.ts";

export interface Homeserver {
    /** "A" or "B". */
    label: string;
    /** The Matrix server name (what follows the colon in a user id). */
    serverName: string;
    /** Plain-HTTP client API, e.g. http://localhost:8481 */
    baseUrl: string;
    /** The TLS listener (federation and the client API, which also serves .well-known). */
    tlsUrl: string;
    registrationSecret: string;
    dataDir: string;
}

export interface Bed {
    a: Homeserver;
    b: Homeserver;
    /** PEM file of the run's private CA (trust it to reach the TLS listeners, e.g. NODE_EXTRA_CA_CERTS). */
    caFile: string;
    stateDir: string;
    stop(): Promise<void>;
}

export interface BedOptions {
    /** Ports: A client base+1, B client base+2, A TLS base+11, B TLS base+12. Default 8480 or MIGRATE_BED_PORT_BASE. */
    portBase?: number;
    /** One profile for both servers, or one each (e.g. an old server more generous than the new one). */
    limits?: LimitsProfile | { a: LimitsProfile; b: LimitsProfile };
    log?: (line: string) => void;
    /**
     * "sqlite" (the default, what the tests use) or "postgres": one throw-away PostgreSQL cluster for both servers on
     * port base+50, for benchmarks that seed far more events than SQLite persists in reasonable time.
     */
    database?: "sqlite" | "postgres";
}

/** A Python launcher: PR_SET_PDEATHSIG survives exec, so Synapse gets SIGTERM if our process dies. */
const LAUNCHER = [
    "import ctypes, os, signal, sys",
    "ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)",
    "os.execv(sys.executable, [sys.executable, '-m', 'synapse.app.homeserver'] + sys.argv[1:])",
].join("\n");

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
    const ca = path.join(dir, "ca.pem");
    const caKey = path.join(dir, "ca.key");
    const cert = path.join(dir, "tls.crt");
    const key = path.join(dir, "tls.key");
    const csr = path.join(dir, "tls.csr");
    const ext = path.join(dir, "tls.ext");
    writeFileSync(
        ext,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
    try {
        openssl([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            caKey,
            "-out",
            ca,
            "-days",
            "7",
            "-subj",
            "/CN=Migration test bed CA",
        ]);
        openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost"]);
        openssl([
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            caKey,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "7",
            "-extfile",
            ext,
        ]);
    } catch (e) {
        throw new BedSetupError(
            `Making the test bed's TLS certificates needs the openssl command: ${(e as Error).message}`,
        );
    }
    return { ca, cert, key };
}

function homeserverConfig(hs: Homeserver, ports: { client: number; tls: number }, tls: Tls) {
    return {
        server_name: hs.serverName,
        public_baseurl: `${hs.baseUrl}/`,
        pid_file: path.join(hs.dataDir, "homeserver.pid"),
        listeners: [
            {
                port: ports.client,
                bind_addresses: ["127.0.0.1"],
                type: "http",
                tls: false,
                x_forwarded: false,
                resources: [{ names: ["client"], compress: false }],
            },
            {
                port: ports.tls,
                bind_addresses: ["127.0.0.1"],
                type: "http",
                tls: true,
                resources: [{ names: ["client", "federation"], compress: false }],
            },
        ],
        tls_certificate_path: tls.cert,
        tls_private_key_path: tls.key,
        federation_verify_certificates: true,
        federation_custom_ca_list: [tls.ca],
        // Loopback federation: allow 127.0.0.0/8, and do not block a server named by an IP literal.
        ip_range_whitelist: ["127.0.0.0/8", "::1/128"],
        ip_range_blacklist: [],
        database: { name: "sqlite3", args: { database: path.join(hs.dataDir, "homeserver.db") } },
        log_config: path.join(hs.dataDir, "log.config"),
        media_store_path: path.join(hs.dataDir, "media"),
        signing_key_path: path.join(hs.dataDir, "signing.key"),
        registration_shared_secret: hs.registrationSecret,
        macaroon_secret_key: randomBytes(24).toString("hex"),
        form_secret: randomBytes(24).toString("hex"),
        report_stats: false,
        trusted_key_servers: [],
        suppress_key_server_warning: true,
        bcrypt_rounds: 4,
        enable_registration: false,
        serve_client_wellknown: true,
        presence: { enabled: false },
        url_preview_enabled: false,
        enable_metrics: false,
    };
}

function logConfig(dataDir: string): string {
    return JSON.stringify({
        version: 1,
        formatters: {
            precise: { format: "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s" },
        },
        filters: { context: { "()": "synapse.logging.context.LoggingContextFilter", "request": "" } },
        handlers: {
            file: {
                class: "logging.FileHandler",
                formatter: "precise",
                filename: path.join(dataDir, "homeserver.log"),
                filters: ["context"],
            },
        },
        loggers: { "synapse.storage.SQL": { level: "WARNING" } },
        root: { level: "INFO", handlers: ["file"] },
        disable_existing_loggers: false,
    });
}

async function waitHealthy(hs: Homeserver, child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited: number | null = null;
    child.once("exit", (code) => (exited = code ?? -1));
    while (Date.now() < deadline) {
        if (exited !== null) {
            throw new BedSetupError(
                `Synapse ${hs.label} (${hs.serverName}) exited with code ${exited} while starting. ` +
                    `Its log: ${path.join(hs.dataDir, "homeserver.log")}\n${tail(path.join(hs.dataDir, "stderr.log"))}`,
            );
        }
        try {
            const res = await fetch(`${hs.baseUrl}/health`);
            if (res.ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new BedSetupError(`Synapse ${hs.label} did not become healthy within ${timeoutMs} ms; see ${hs.dataDir}`);
}

function tail(file: string): string {
    try {
        return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
    } catch {
        return "";
    }
}

/** Removes state folders of earlier runs whose process has ended (concurrent runs keep theirs). */
function pruneOldRuns(): void {
    let entries: string[] = [];
    try {
        entries = readdirSync(BED_STATE_ROOT).filter((e) => e.startsWith("run-"));
    } catch {
        return;
    }
    for (const old of entries) {
        const pid = Number(/-(\d+)$/.exec(old)?.[1]);
        if (pid && isAlive(pid)) continue;
        rmSync(path.join(BED_STATE_ROOT, old), { recursive: true, force: true });
    }
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve();
        });
        child.kill("SIGTERM");
    });
}

interface ServerSpec {
    label: string;
    host: string;
    client: number;
    tlsPort: number;
}

interface Tls {
    ca: string;
    cert: string;
    key: string;
}

/** Writes one server's files and starts it; the caller waits for health. */
function launchSynapse(
    python: string,
    stateDir: string,
    tls: Tls,
    spec: ServerSpec,
    limits: LimitsProfile,
    extraConfig: Record<string, unknown> = {},
    env: Record<string, string> = {},
) {
    const dataDir = path.join(stateDir, `hs-${spec.label.toLowerCase()}`);
    mkdirSync(path.join(dataDir, "media"), { recursive: true });
    const hs: Homeserver = {
        label: spec.label,
        serverName: `${spec.host}:${spec.tlsPort}`,
        baseUrl: `http://${spec.host}:${spec.client}`,
        tlsUrl: `https://${spec.host}:${spec.tlsPort}`,
        registrationSecret: randomBytes(16).toString("hex"),
        dataDir,
    };
    // A key id of its own: a server started later under the same name (an extra server's slot is reused within a
    // run) must not be taken for a forger by servers that cached the earlier one's key.
    writeFileSync(
        path.join(dataDir, "signing.key"),
        `ed25519 a_${randomBytes(4).toString("hex")} ${randomBytes(32).toString("base64").replace(/=+$/, "")}\n`,
    );
    writeFileSync(path.join(dataDir, "log.config"), logConfig(dataDir));
    // JSON is valid YAML, so no YAML writer is needed. Later files override earlier ones.
    const files = [
        ["homeserver.yaml", homeserverConfig(hs, { client: spec.client, tls: spec.tlsPort }, tls)],
        [`limits-${limits.kind}.yaml`, rateLimitConfig(limits)],
        ["extra.yaml", extraConfig],
    ] as const;
    const args: string[] = [];
    for (const [name, content] of files) {
        writeFileSync(path.join(dataDir, name), JSON.stringify(content, null, 2));
        args.push("-c", path.join(dataDir, name));
    }
    const errFd = openSync(path.join(dataDir, "stderr.log"), "a");
    const child = spawn(python, ["-c", LAUNCHER, ...args], {
        cwd: dataDir,
        stdio: ["ignore", errFd, errFd],
        env: { ...process.env, ...env },
    });
    return { hs, child };
}

function checkPortBase(portBase: number): number {
    if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65000) {
        throw new BedSetupError(`MIGRATE_BED_PORT_BASE must be a port number between 1024 and 65000, not ${portBase}`);
    }
    return portBase;
}

export async function startHomeservers(options: BedOptions = {}): Promise<Bed> {
    const log = options.log ?? ((l: string) => process.stderr.write(l + "\n"));
    const python = ensureSynapseInstalled(log);
    const portBase = checkPortBase(options.portBase ?? Number(process.env.MIGRATE_BED_PORT_BASE ?? 8480));
    const limits = options.limits ?? { kind: "functional" };

    pruneOldRuns();
    const stateDir = path.join(BED_STATE_ROOT, `run-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
    mkdirSync(stateDir, { recursive: true });
    const tls = makeCertificates(stateDir);

    const specs: ServerSpec[] = [
        { label: "A", host: "localhost", client: portBase + 1, tlsPort: portBase + 11 },
        { label: "B", host: "127.0.0.1", client: portBase + 2, tlsPort: portBase + 12 },
    ];
    const launched: Array<ReturnType<typeof launchSynapse>> = [];
    let postgres: Postgres | undefined;
    const stop = async () => {
        await Promise.all(launched.map((l) => stopChild(l.child)));
        postgres?.stop();
    };
    try {
        if (options.database === "postgres") {
            postgres = startPostgres(path.join(stateDir, "pg"), portBase + 50, ["synapse_a", "synapse_b"], log);
        }
        for (const spec of specs) {
            const own = "a" in limits ? (spec.label === "A" ? limits.a : limits.b) : limits;
            const database = postgres
                ? { database: postgres.synapseDatabase(`synapse_${spec.label.toLowerCase()}`) }
                : {};
            launched.push(launchSynapse(python, stateDir, tls, spec, own, database, postgres?.env));
        }
        // Both were started before waiting: together they are healthy in about the time of one.
        await Promise.all(launched.map((l) => waitHealthy(l.hs, l.child, 60_000)));
    } catch (e) {
        await stop();
        throw e;
    }
    const [a, b] = launched.map((l) => l.hs);
    log(`Homeservers up: A ${a.serverName} (${a.baseUrl}), B ${b.serverName} (${b.baseUrl}); state in ${stateDir}`);
    return { a, b, caFile: tls.ca, stateDir, stop };
}

/** Slots for servers beside the bed: 3 uses ports base+3 / base+13, 4 uses base+4 / base+14. */
export type ExtraSlot = 3 | 4;

function extraSpec(label: string, slot: ExtraSlot): ServerSpec {
    const portBase = checkPortBase(Number(process.env.MIGRATE_BED_PORT_BASE ?? 8480));
    return { label, host: "localhost", client: portBase + slot, tlsPort: portBase + 10 + slot };
}

/** The client API address an extra server will have (to configure an identity provider before it starts). */
export function extraHomeserverUrl(slot: ExtraSlot): string {
    return `http://localhost:${extraSpec("", slot).client}`;
}

/**
 * One more server beside a running bed, with its own configuration on top (e.g. a server that only offers single
 * sign-on). Uses the ports of its slot (default 3: base+3 / base+13); the caller stops it.
 */
export async function startExtraHomeserver(
    bed: { stateDir: string },
    label: string,
    extraConfig: Record<string, unknown>,
    slot: ExtraSlot = 3,
): Promise<{ hs: Homeserver; stop(): Promise<void> }> {
    const python = ensureSynapseInstalled();
    const tls: Tls = {
        ca: path.join(bed.stateDir, "ca.pem"),
        cert: path.join(bed.stateDir, "tls.crt"),
        key: path.join(bed.stateDir, "tls.key"),
    };
    const spec = extraSpec(label, slot);
    const { hs, child } = launchSynapse(python, bed.stateDir, tls, spec, { kind: "functional" }, extraConfig);
    try {
        await waitHealthy(hs, child, 60_000);
    } catch (e) {
        await stopChild(child);
        throw e;
    }
    return { hs, stop: () => stopChild(child) };
}

export interface RegisteredUser {
    userId: string;
    accessToken: string;
    deviceId: string;
    password: string;
    homeserver: Homeserver;
}

/** Registers a user through Synapse's shared-secret admin API. */
export async function registerUser(
    hs: Homeserver,
    localpart: string,
    opts: { password?: string; admin?: boolean; displayName?: string } = {},
): Promise<RegisteredUser> {
    const password = opts.password ?? `pw-${randomBytes(8).toString("hex")}`;
    const url = `${hs.baseUrl}/_synapse/admin/v1/register`;
    const nonceRes = await fetch(url);
    if (!nonceRes.ok) throw new Error(`Getting a registration nonce from ${hs.label} failed: ${nonceRes.status}`);
    const { nonce } = (await nonceRes.json()) as { nonce: string };
    const mac = createHmac("sha1", hs.registrationSecret)
        .update(`${nonce}\0${localpart}\0${password}\0${opts.admin ? "admin" : "notadmin"}`)
        .digest("hex");
    const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
            nonce,
            username: localpart,
            password,
            admin: !!opts.admin,
            mac,
            displayname: opts.displayName,
        }),
    });
    const body = (await res.json()) as { user_id: string; access_token: string; device_id: string; error?: string };
    if (!res.ok) throw new Error(`Registering ${localpart} on ${hs.label} failed: ${res.status} ${body.error ?? ""}`);
    return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id, password, homeserver: hs };
}

/** A short unique localpart, so tests sharing one bed never collide. */
export function uniqueLocalpart(prefix: string): string {
    return `${prefix.toLowerCase().replace(/[^a-z0-9._=-]/g, "")}-${randomBytes(4).toString("hex")}`;
}
