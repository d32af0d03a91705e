/**
 * The CLI against the REAL Matrix Authentication Service (../shared/mas, see tests/bed/mas.ts) in front of a real
 * Synapse: both sides of a same-server migration sign in through MAS (device grant, and authorization code + PKCE
 * through the loopback redirect), approved by a person at MAS's own pages (tests/bed/masPerson.ts). The terminal
 * shows the sign-in lines, progress and the summary — never matrix-js-sdk's debug log.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { currentBed } from "../bed/jestGlobal.ts";
import { type RealMas, startRealMas } from "../bed/mas.ts";
import { MasPerson } from "../bed/masPerson.ts";
import { discoverSignIn } from "../../src/sessions/discovery.ts";
import { type StartedCli, startCli } from "../cli/cliProcess.ts";
import { type Token, api as masApi, deviceCodePrompt, tokenOf as masTokenOf } from "./masSupport.ts";

let mas: RealMas;

beforeAll(async () => {
    mas = await startRealMas(currentBed().stateDir);
}, 60_000);

afterAll(async () => {
    await mas?.stop();
});

const api = (token: Token, method: string, path: string, body?: unknown) => masApi(mas, token, method, path, body);
const tokenOf = (n: 0 | 1 | 2) => masTokenOf(mas, n);

async function signInUrlNth(cli: StartedCli, nth: number): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
        const urls = [...cli.stderr().matchAll(/Sign in at: (\S+)/g)];
        if (urls[nth]) return urls[nth][1];
        if (Date.now() > deadline) throw new Error(`no sign-in URL #${nth + 1}; stderr:\n${cli.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

async function seedRooms(owner: Token, names: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const name of names)
        ids.push((await api(owner, "POST", "createRoom", { name, preset: "private_chat" })).room_id as string);
    return ids;
}

async function joinedRooms(token: Token): Promise<string[]> {
    return (await api(token, "GET", "joined_rooms")).joined_rooms as string[];
}

async function cliDevices(token: Token): Promise<string[]> {
    const devices = (await api(token, "GET", "devices")).devices as Array<{ device_id: string; display_name?: string }>;
    return devices.filter((d) => d.display_name?.startsWith("Account migration")).map((d) => d.device_id);
}

const noLibraryLog = (text: string) =>
    expect(text).not.toMatch(/OAuth2:|-->|<--|FetchHttpApi|MatrixClient|\bDEBUG\b|^\s*at /m);
const noTokens = (text: string) =>
    expect(text).not.toMatch(/mat_|mar_|access_token|refresh_token|[?&]code=[A-Za-z0-9]{20}/);

function baseArgs(oldMethod: string, newMethod: string): string[] {
    return [
        "--old-homeserver",
        mas.synapseUrl,
        "--old-user",
        mas.users[0].userId,
        "--old-sign-in",
        oldMethod,
        "--new-user",
        mas.users[1].userId,
        "--new-homeserver",
        mas.synapseUrl,
        "--new-sign-in",
        newMethod,
        "--yes",
    ];
}

test("discovery on the real MAS: Synapse's own address offers OAuth 2.0 only (its /login is gone); behind the reverse proxy MAS's compat API adds single sign-on and the password, after OAuth 2.0", async () => {
    const direct = await discoverSignIn(mas.users[1].userId, mas.synapseUrl);
    expect(direct.offer.methods.map((m) => m.kind)).toEqual(["oauth", "token"]);
    expect(direct.offer.methods[0]).toEqual({ kind: "oauth", deviceGrant: true });
    expect(direct.authMetadata?.issuer).toBe(mas.issuer);
    const proxied = await discoverSignIn(mas.users[1].userId, mas.proxyUrl);
    expect(proxied.offer.methods.map((m) => m.kind)).toEqual(["oauth", "sso", "password", "token"]);
});

test("CLI on the real MAS, both sides by device grant (old: --old-sign-in device), approved at MAS's pages: sets up recovery for the new account (no password), migrates a small account on the same server, prints no library log (it goes to MIGRATE_DEBUG_LOG) and no token, and its devices are gone afterwards", async () => {
    const oldToken = await tokenOf(0);
    const newToken = await tokenOf(1);
    const rooms = await seedRooms(oldToken, ["mas-device-a", "mas-device-b"]);
    const debugLog = path.join(mkdtempSync(path.join(tmpdir(), "migrate-mas-")), "sdk.log");
    // Setting up recovery runs matrix-js-sdk's client and Rust crypto, which log at debug level.
    const cli = startCli([...baseArgs("device", "device"), "--set-up-new-backup"], { MIGRATE_DEBUG_LOG: debugLog });
    const old = await deviceCodePrompt(cli, 0);
    await new MasPerson(mas.users[0].localpart, mas.users[0].password).answerDeviceCode(old.uri, old.code, "consent");
    const neu = await deviceCodePrompt(cli, 1);
    await new MasPerson(mas.users[1].localpart, mas.users[1].password).answerDeviceCode(neu.uri, neu.code, "consent");
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 0,
        stderr: expect.stringMatching(/[1-9]\d* migrated, \d+ already done, 0 need action, 0 skipped, 0 failed/),
    });
    // A MAS account has no password: its first cross-signing upload needs no approval.
    expect(result.stderr).toMatch(/Recovery was set up for/);
    noLibraryLog(result.stdout + result.stderr);
    noTokens(result.stdout + result.stderr);
    // The SDK did log (so the check above could fail): to the file asked for, not to the terminal.
    expect(readFileSync(debugLog, "utf8")).toMatch(/\S/);
    expect(await joinedRooms(newToken)).toEqual(expect.arrayContaining(rooms));
    // Finished: both sessions revoked at MAS, which removes their devices (Synapse hears of it shortly after).
    for (const token of [oldToken, newToken]) {
        const deadline = Date.now() + 10_000;
        while ((await cliDevices(token)).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
        expect(await cliDevices(token)).toEqual([]);
    }
});

test("CLI on the real MAS, both sides by authorization code + PKCE (--old-sign-in oauth): the loopback redirect comes back on the CLI's own port and the migration runs", async () => {
    const oldToken = await tokenOf(0);
    const newToken = await tokenOf(1);
    const rooms = await seedRooms(oldToken, ["mas-code-a"]);
    const cli = startCli(baseArgs("oauth", "oauth"), {});
    for (const [nth, user] of [mas.users[0], mas.users[1]].entries()) {
        const url = await signInUrlNth(cli, nth);
        expect(url).toMatch(/code_challenge_method=S256/);
        const redirect = new URL(url).searchParams.get("redirect_uri")!;
        const back = await new MasPerson(user.localpart, user.password).approveAuthorization(url, redirect);
        expect(new URL(back).pathname).toBe("/callback");
        // The person's browser arrives at the CLI's loopback server.
        expect((await fetch(back)).status).toBe(200);
    }
    const result = await cli.done;
    expect(result.stderr).toMatch(/[1-9]\d* migrated, \d+ already done, 0 need action, 0 skipped, 0 failed/);
    noLibraryLog(result.stdout + result.stderr);
    noTokens(result.stdout + result.stderr);
    expect(await joinedRooms(newToken)).toEqual(expect.arrayContaining(rooms));
});

test("CLI on the real MAS: approving the new account's code as another account is refused, that session is revoked, and nothing changes", async () => {
    const intruder = await tokenOf(2);
    const cli = startCli(
        [
            "--old-homeserver",
            mas.synapseUrl,
            "--old-user",
            mas.users[0].userId,
            "--old-sign-in",
            "device",
            "--new-user",
            mas.users[1].userId,
            "--new-homeserver",
            mas.synapseUrl,
            "--new-sign-in",
            "device",
            "--yes",
        ],
        {},
    );
    const old = await deviceCodePrompt(cli, 0);
    await new MasPerson(mas.users[0].localpart, mas.users[0].password).answerDeviceCode(old.uri, old.code, "consent");
    const neu = await deviceCodePrompt(cli, 1);
    await new MasPerson(mas.users[2].localpart, mas.users[2].password).answerDeviceCode(neu.uri, neu.code, "consent");
    const result = await cli.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
        new RegExp(`signed in ${mas.users[2].userId.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}, not`),
    );
    const deadline = Date.now() + 10_000;
    while ((await cliDevices(intruder)).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await cliDevices(intruder)).toEqual([]);
});

test("CLI on the real MAS: refusing the code on MAS's page (MAS answers the poll with HTTP 403 access_denied) gives a clear error and exit 2", async () => {
    const cli = startCli(baseArgs("device", "device"), {});
    const old = await deviceCodePrompt(cli, 0);
    await new MasPerson(mas.users[0].localpart, mas.users[0].password).answerDeviceCode(old.uri, old.code, "reject");
    const result = await cli.done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refused on the approval page/);
    noLibraryLog(result.stdout + result.stderr);
});

test("CLI on the real MAS: Ctrl-C while a code waits stops at once, signs nothing in", async () => {
    const cli = startCli(baseArgs("device", "device"), {});
    await deviceCodePrompt(cli, 0);
    cli.child.kill("SIGINT");
    const result = await cli.done;
    expect(result.code).toBe(130);
    expect(result.stderr).not.toMatch(/migrated/);
});
