/**
 * `npm start`: the demo. Sets up what is missing (Chromium, the Synapse venv), builds, starts the two federating
 * homeservers, seeds the old account (alice on A, with rooms, DMs, a space and encrypted history in her key backup)
 * and the empty new account (alice-new on B), serves the host page with the module, and prints how to use it.
 * Ctrl-C (SIGINT) or SIGTERM stops the host server and the homeservers and exits 0.
 *
 * Environment: MIGRATE_DEMO_PORT (host page, default 8400), MIGRATE_BED_PORT_BASE (homeservers, default 8480),
 * MIGRATE_SDK_LOG=debug to see matrix-js-sdk's own logging.
 */
// matrix-js-sdk logs every request and crypto step to the console; the demo's output should be the instructions.
import "../tests/bed/quietConsole.ts";

import { startHostServer, type HostServer } from "../host/server.ts";
import { type Bed, startHomeservers } from "../tests/bed/homeservers.ts";
import { DEMO_ACCOUNT_SPECS, type DemoAccounts, seedDemoAccounts } from "../tests/fixtures/demoAccounts.ts";
import { ensureMachine, run } from "./setup.ts";

const log = (line: string): void => console.log(line);

function demoPort(): number {
    const raw = process.env.MIGRATE_DEMO_PORT ?? "8400";
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(`MIGRATE_DEMO_PORT must be a port number, not "${raw}"`);
    }
    return port;
}

let bed: Bed | undefined;
let host: HostServer | undefined;
let stopping = false;

/** Stops what was started, in reverse order, then exits (matrix-js-sdk's request timers would keep Node alive). */
async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    try {
        await host?.close();
        await bed?.stop();
    } catch (e) {
        console.error(`Stopping the demo: ${(e as Error).message}`);
        code ||= 1;
    }
    if (code === 0) console.log("Demo stopped.");
    process.exit(code);
}

function printInstructions(url: string, demo: DemoAccounts): void {
    const { alice, aliceNew, bob, carol } = demo.users;
    const rule = "─".repeat(78);
    const lines = [
        "",
        rule,
        "  Account migration demo is running",
        "",
        `  Open ${url} and sign in as the old account.`,
        "",
        "  Old account (migrate from)",
        `    user id       ${alice.userId}`,
        `    password      ${alice.password}`,
        `    homeserver    ${alice.baseUrl}`,
        `    recovery key  ${demo.recoveryKeys.alice}`,
        "",
        "  New account (migrate to)",
        `    user id       ${aliceNew.userId}`,
        `    password      ${aliceNew.password}`,
        `    homeserver    ${aliceNew.baseUrl}`,
        `    recovery key  ${demo.recoveryKeys.aliceNew}`,
        "",
        `  Also in alice's rooms: ${bob.userId} (password ${bob.password}), ${carol.userId} (password ${carol.password})`,
        `  Seeded in ${(demo.seedingMs / 1000).toFixed(1)} s: ${Object.keys(demo.rooms).length} rooms, ` +
            `${demo.messages} messages, ${demo.aliceMegolmSessions} room keys in alice's key backup.`,
        "",
        "  Press Ctrl-C to stop.",
        rule,
        "",
    ];
    console.log(lines.join("\n"));
}

const port = demoPort();
ensureMachine();
run("webpack", []);

// From here on something is running that must be stopped; a signal during start-up stops it too.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
        if (!stopping) console.log(`\n${signal}: stopping the host server and the homeservers…`);
        void shutdown(0);
    });
}

try {
    bed = await startHomeservers({ log });
    const demo = await seedDemoAccounts(bed, log, DEMO_ACCOUNT_SPECS);
    host = await startHostServer({
        port,
        config: {
            default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
        },
    });
    printInstructions(host.url, demo);
} catch (e) {
    if (!stopping) {
        console.error(`\nThe demo could not start: ${(e as Error).stack ?? e}`);
        await shutdown(1);
    }
}
