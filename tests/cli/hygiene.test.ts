/**
 * The CLI's hygiene (issue 15.5), the built CLI as its own process against the two real servers: Ctrl-C / SIGTERM
 * sign both of the tool's sessions out, release the lock and exit 130; `--set-up-new-backup` sets nothing up when
 * the person answers N; the browser it starts gets none of the MIGRATE_* secrets; report and key file are 0600 even
 * when they existed. A person at a terminal is played with util-linux `script` (a pseudo-terminal), as the CLI asks
 * and opens a browser only then.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { runLockFile } from "../../src/cli/runLock.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Actor, createRoom, sessionFor } from "../support/scenario.ts";
import { CLI, runCli, startCli } from "./cliProcess.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-cli-hygiene-"));
const DEVICE_NAME = "Account migration (CLI)";

async function account(side: "a" | "b", prefix: string): Promise<Actor & RegisteredUser> {
    const hs = currentBed()[side];
    const u = await registerUser(hs, uniqueLocalpart(prefix));
    return sessionFor(hs, u);
}

async function toolDevices(who: Actor): Promise<string[]> {
    const { devices } = await who.http.request<{ devices: Array<{ device_id: string; display_name?: string }> }>(
        "GET",
        "/devices",
    );
    return devices.filter((d) => d.display_name === DEVICE_NAME).map((d) => d.device_id);
}

interface TerminalRun {
    code: number | null;
    output: string;
}

/**
 * The CLI at a pseudo-terminal (stdin and stdout are TTYs): `answer` is typed once `prompt` appears. Output (stdout
 * and stderr together, as a terminal shows them) is collected; `until` ends the run with SIGTERM once it matches.
 */
function atTerminal(
    args: string[],
    env: Record<string, string>,
    opts: { prompt?: RegExp; answer?: string; until?: () => boolean } = {},
): Promise<TerminalRun> {
    const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const script = path.join(workDir, `run-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(script, `#!/bin/sh\nexec ${[process.execPath, CLI, ...args].map(quote).join(" ")}\n`, {
        mode: 0o700,
    });
    const bed = JSON.parse(process.env.MIGRATE_BED ?? "{}") as { caFile?: string };
    const child = spawn("script", ["-q", "-e", "-c", script, "/dev/null"], {
        env: {
            PATH: process.env.PATH ?? "",
            TERM: "dumb",
            ...(bed.caFile ? { NODE_EXTRA_CA_CERTS: bed.caFile } : {}),
            ...env,
        },
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group: ending the run ends the CLI under `script` too.
        detached: true,
    });
    let output = "";
    let answered = false;
    const watch = setInterval(() => {
        if (opts.until?.() && child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
    }, 100);
    const onData = (d: Buffer) => {
        output += d.toString();
        if (opts.prompt && !answered && opts.prompt.test(output)) {
            answered = true;
            child.stdin!.write(opts.answer ?? "\n");
        }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    return new Promise((resolve) =>
        child.on("close", (code) => {
            clearInterval(watch);
            resolve({ code, output });
        }),
    );
}

test("issue 15.5: SIGINT mid-run stops it, signs both of the tool's sessions out, releases the lock and exits 130", async () => {
    const bed = currentBed();
    const old = await account("a", "alice");
    const neu = await account("b", "new");
    for (let i = 0; i < 6; i++) await createRoom(old, { name: `Room ${i}`, preset: "public_chat" });
    const cli = startCli(
        [
            ...["--old-homeserver", bed.a.baseUrl, "--old-user", old.userId],
            ...["--new-user", neu.userId, "--new-homeserver", bed.b.baseUrl, "--yes"],
        ],
        { MIGRATE_OLD_PASSWORD: old.password, MIGRATE_NEW_PASSWORD: neu.password, TMPDIR: workDir },
    );
    // Both sessions signed in and the lock taken: the tool is reading the old account or already moving rooms.
    for (let i = 0; !/Reading .*'s rooms/.test(cli.stderr()); i++) {
        if (i > 600 || cli.child.exitCode !== null) throw new Error(`the CLI never got to the run:\n${cli.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    expect(await toolDevices(old)).toHaveLength(1);
    expect(await toolDevices(neu)).toHaveLength(1);
    expect(existsSync(runLockFile(old.userId, neu.userId, workDir))).toBe(true);
    cli.child.kill("SIGINT");
    const run = await cli.done;
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 130, signal: null });
    expect(run.stderr).toMatch(/Stopping: signing out this tool's sessions\. Run the same command again to continue\./);
    expect(await toolDevices(old)).toEqual([]);
    expect(await toolDevices(neu)).toEqual([]);
    expect(existsSync(runLockFile(old.userId, neu.userId, workDir))).toBe(false);
}, 120_000);

test("issue 15.5: --set-up-new-backup answered N at the terminal sets nothing up — no backup, no cross-signing, no secret storage on the new account", async () => {
    const bed = currentBed();
    const old = await account("a", "alice");
    const neu = await account("b", "new");
    await createRoom(old, { name: "Room", preset: "public_chat" });
    const run = await atTerminal(
        [
            ...["--old-homeserver", bed.a.baseUrl, "--new-user", neu.userId, "--new-homeserver", bed.b.baseUrl],
            "--set-up-new-backup",
        ],
        { MIGRATE_OLD_ACCESS_TOKEN: old.accessToken, MIGRATE_NEW_PASSWORD: neu.password },
        { prompt: /Start the migration\? \[y\/N\]/, answer: "n\n" },
    );
    expect(run.output).toMatch(/Nothing was changed\./);
    expect(run.code).toBe(0);
    await expect(neu.http.request("GET", "/room_keys/version")).rejects.toMatchObject({ httpStatus: 404 });
    const keys = await neu.http.request<{ master_keys?: Record<string, unknown> }>("POST", "/keys/query", {
        body: { device_keys: { [neu.userId]: [] } },
    });
    expect(keys.master_keys?.[neu.userId]).toBeUndefined();
    await expect(
        neu.http.request("GET", `/user/${encodeURIComponent(neu.userId)}/account_data/m.secret_storage.default_key`),
    ).rejects.toMatchObject({ httpStatus: 404 });
    expect(await toolDevices(neu)).toEqual([]);
    expect(run.output).not.toMatch(/Recovery was set up/);
    expect(run.output).toMatch(/recovery will be set up for .* when the migration starts/);
}, 120_000);

test("issue 15.5: the browser the CLI starts for single sign-on gets none of the MIGRATE_* secrets, and only the checked sign-in address", async () => {
    // A loopback stand-in that offers single sign-on (never followed: the browser here is a script that records).
    let server: Server | undefined;
    const base = await new Promise<string>((resolve) => {
        server = createServer((req, res) => {
            const send = (body: unknown) =>
                res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
            if (req.url === "/_matrix/client/versions") return send({ versions: ["v1.15"] });
            if (req.url === "/_matrix/client/v3/login")
                return send({ flows: [{ type: "m.login.sso" }, { type: "m.login.token" }] });
            res.writeHead(404).end();
        }).listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server!.address() as { port: number }).port}`));
    });
    const bin = mkdtempSync(path.join(workDir, "bin-"));
    const seen = path.join(bin, "browser-saw.txt");
    for (const name of ["xdg-open", "open"]) {
        writeFileSync(
            path.join(bin, name),
            `#!/bin/sh\n{ echo "URL=$1"; env; } > '${seen}.tmp'\nmv '${seen}.tmp' '${seen}'\n`,
        );
        chmodSync(path.join(bin, name), 0o755);
    }
    const old = await account("a", "alice");
    const secrets = {
        MIGRATE_OLD_ACCESS_TOKEN: old.accessToken,
        MIGRATE_OLD_RECOVERY_KEY: "EsTx not a real recovery key",
        MIGRATE_KEY_FILE_PASSPHRASE: "a passphrase",
    };
    try {
        const run = await atTerminal(
            [
                ...["--old-homeserver", currentBed().a.baseUrl, "--new-homeserver", base],
                ...["--new-user", `@someone:${new URL(base).host}`, "--new-sign-in", "sso"],
            ],
            { ...secrets, PATH: `${bin}:${process.env.PATH ?? ""}`, KEEP_ME: "kept" },
            { until: () => existsSync(seen) },
        );
        expect(run.output).toMatch(/Sign in at: http:\/\/127\.0\.0\.1:\d+\/_matrix\/client\/v3\/login\/sso\/redirect/);
        const saw = readFileSync(seen, "utf8");
        expect(saw).toMatch(new RegExp(`^URL=${base.replace(/[.]/g, "\\.")}/_matrix/client/v3/login/sso/redirect\\?`));
        expect(saw).toMatch(/^KEEP_ME=kept$/m);
        expect(saw).not.toMatch(/MIGRATE_/);
        for (const value of Object.values(secrets)) expect(saw).not.toContain(value);
    } finally {
        server?.closeAllConnections();
        server?.close();
    }
}, 60_000);

test("issue 15.5: the report and the key file are written 0600, also over files that existed world-readable", async () => {
    const bed = currentBed();
    const old = await account("a", "alice");
    const neu = await account("b", "new");
    await createRoom(old, { name: "Room", preset: "public_chat" });
    const report = path.join(workDir, "report.json");
    const keyFile = path.join(workDir, "keys.txt");
    for (const file of [report, keyFile]) {
        writeFileSync(file, "old\n", { mode: 0o644 });
        chmodSync(file, 0o644);
    }
    const run = await runCli(
        [
            ...["--old-homeserver", bed.a.baseUrl, "--new-user", neu.userId, "--new-homeserver", bed.b.baseUrl],
            ...["--dry-run", "--report", report, "--key-file", keyFile],
        ],
        {
            MIGRATE_OLD_ACCESS_TOKEN: old.accessToken,
            MIGRATE_NEW_ACCESS_TOKEN: neu.accessToken,
            MIGRATE_KEY_FILE_PASSPHRASE: "a passphrase for the test",
        },
    );
    expect(run.stderr).toMatch(/Report written to/);
    expect(run.stderr).toMatch(/Wrote 0 room key\(s\) to/);
    expect(statSync(report).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({ dryRun: true });
});
