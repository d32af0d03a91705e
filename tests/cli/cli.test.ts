/**
 * The built CLI (dist/cli), run as a separate process against the two real servers: bad input, a dry run that
 * provably writes nothing, a full run with its JSON report, and a run killed midway then resumed.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { registerUser, startExtraHomeserver, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Actor, type Scenario, buildScenario, getAccountData, getState } from "../engine/scenario.ts";
import { runCli, startCli } from "./cliProcess.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-cli-"));

function tokens(s: { alice: Actor; newAccount: Actor }): Record<string, string> {
    return { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_ACCESS_TOKEN: s.newAccount.accessToken };
}

function baseArgs(s: Scenario): string[] {
    return [
        "--old-homeserver",
        s.alice.homeserver.baseUrl,
        "--new-user",
        s.newAccount.userId,
        "--new-homeserver",
        s.newAccount.homeserver.baseUrl,
    ];
}

/** The new account's end state, with room ids replaced by names so two scenarios can be compared. */
async function finalState(s: Scenario): Promise<Record<string, unknown>> {
    const names = new Map(Object.entries(s.rooms).map(([name, id]) => [id, name]));
    const neu = s.newAccount;
    const rooms: Record<string, unknown> = {};
    for (const [name, roomId] of Object.entries(s.rooms)) {
        const member = await getState<{ membership?: string }>(neu, roomId, "m.room.member", neu.userId).catch(() => ({
            membership: undefined,
        }));
        const pl =
            member.membership === "join"
                ? await getState<{ users: Record<string, number> }>(neu, roomId, "m.room.power_levels")
                : undefined;
        const { tags } = await neu.http.request<{ tags: Record<string, unknown> }>(
            "GET",
            `/user/${seg(neu.userId)}/rooms/${seg(roomId)}/tags`,
        );
        rooms[name] = { membership: member.membership ?? null, level: pl?.users[neu.userId] ?? null, tags };
    }
    const direct = (await getAccountData<Record<string, string[]>>(neu, "m.direct")) ?? {};
    const rules = (
        await neu.http.request<{ global: Record<string, Array<{ rule_id: string; enabled: boolean }>> }>(
            "GET",
            "/pushrules/",
        )
    ).global;
    const custom = Object.fromEntries(
        Object.entries(rules).map(([kind, list]) => [
            kind,
            list
                .filter((r) => !r.rule_id.startsWith("."))
                .map((r) => `${names.get(r.rule_id) ?? (r.rule_id.startsWith("@") ? "user" : r.rule_id)}:${r.enabled}`),
        ]),
    );
    const profile = await neu.http.request<{ displayname?: string }>("GET", `/profile/${seg(neu.userId)}`);
    return {
        rooms,
        direct: Object.values(direct)
            .flat()
            .map((id) => names.get(id) ?? "own")
            .sort(),
        pushRules: custom,
        ignored: Object.keys(
            ((await getAccountData(neu, "m.ignored_user_list"))?.ignored_users ?? {}) as object,
        ).sort(),
        displayname: profile.displayname,
    };
}

describe("bad input gets a clear message, exit code 2, and changes nothing", () => {
    let s: { alice: Actor; newAccount: Actor };

    beforeAll(async () => {
        const bed = currentBed();
        const make = async (hs: typeof bed.a, p: string): Promise<Actor> => {
            const u = await registerUser(hs, uniqueLocalpart(p));
            return { ...u, http: new MatrixHttp(hs.baseUrl, u.accessToken) };
        };
        s = { alice: await make(bed.a, "alice"), newAccount: await make(bed.b, "new") };
    });

    async function expectRejected(args: string[], env: Record<string, string>, message: RegExp): Promise<void> {
        const bed = currentBed();
        const mark = logMark([bed.a, bed.b]);
        const result = await runCli(args, env);
        expect({ code: result.code, stderr: result.stderr }).toEqual({
            code: 2,
            stderr: expect.stringMatching(message),
        });
        expect(result.stderr).toMatch(/Nothing was changed/);
        // Signing in is the only POST allowed; federation between the servers is not ours.
        const writes = (await requestsSince([bed.a, bed.b], mark)).filter(
            (r) => r.user.startsWith("@") && r.method !== "GET" && !/\/(login|logout)$/.test(r.path),
        );
        expect(writes).toEqual([]);
    }

    const base = () => [
        "--old-homeserver",
        s.alice.homeserver.baseUrl,
        "--new-homeserver",
        s.newAccount.homeserver.baseUrl,
    ];

    test("malformed user id", () =>
        expectRejected([...base(), "--new-user", "alice-new"], tokens(s), /not a Matrix user id/));
    test("the new account is the old account", () =>
        expectRejected(
            [...base(), "--new-user", s.alice.userId],
            { ...tokens(s), MIGRATE_NEW_ACCESS_TOKEN: s.alice.accessToken },
            /must be a different account/,
        ));
    test("unreachable server", () =>
        expectRejected(
            ["--old-homeserver", "http://127.0.0.1:1", "--new-user", s.newAccount.userId],
            tokens(s),
            /Could not reach http:\/\/127\.0\.0\.1:1/,
        ));
    test("a server that is not a homeserver", () =>
        expectRejected(
            ["--old-homeserver", `${s.alice.homeserver.baseUrl}/nothing-here`, "--new-user", s.newAccount.userId],
            tokens(s),
            /not a Matrix homeserver/,
        ));
    test("no .well-known for the new account's server", () =>
        expectRejected(
            ["--old-homeserver", s.alice.homeserver.baseUrl, "--new-user", "@someone:localhost:1"],
            tokens(s),
            /Give its address explicitly/,
        ));
    test("wrong password", () =>
        expectRejected(
            [...base(), "--new-user", s.newAccount.userId],
            { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_PASSWORD: "wrong" },
            /Wrong password/,
        ));
    test("expired token", async () => {
        const bed = currentBed();
        const stale = await registerUser(bed.a, uniqueLocalpart("stale"));
        await new MatrixHttp(bed.a.baseUrl, stale.accessToken).request("POST", "/logout", { body: {} });
        await expectRejected(
            [...base(), "--new-user", s.newAccount.userId],
            { ...tokens(s), MIGRATE_OLD_ACCESS_TOKEN: stale.accessToken },
            /access token is not valid/,
        );
    });
    test("deactivated new account, signing in with its password", async () => {
        const bed = currentBed();
        const gone = await registerUser(bed.b, uniqueLocalpart("gone"));
        const admin = await registerUser(bed.b, uniqueLocalpart("admin"), { admin: true });
        await new MatrixHttp(bed.b.baseUrl, admin.accessToken).request("POST", `/deactivate/${seg(gone.userId)}`, {
            prefix: "/_synapse/admin/v1",
            body: {},
        });
        await expectRejected(
            [...base(), "--new-user", gone.userId],
            { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_PASSWORD: gone.password },
            /has been deactivated/,
        );
    });
    test("deactivated new account, with its old access token", async () => {
        const bed = currentBed();
        const gone = await registerUser(bed.b, uniqueLocalpart("gone"));
        const admin = await registerUser(bed.b, uniqueLocalpart("admin"), { admin: true });
        await new MatrixHttp(bed.b.baseUrl, admin.accessToken).request("POST", `/deactivate/${seg(gone.userId)}`, {
            prefix: "/_synapse/admin/v1",
            body: {},
        });
        await expectRejected(
            [...base(), "--new-user", gone.userId],
            { ...tokens(s), MIGRATE_NEW_ACCESS_TOKEN: gone.accessToken },
            /account was deactivated/,
        );
    });
    test("a new server that only offers single sign-on, with a password", async () => {
        // A third real Synapse with password login off and an OpenID Connect provider configured (never contacted:
        // the CLI must stop at the list of sign-in methods).
        const sso = await startExtraHomeserver(currentBed(), "C", {
            password_config: { enabled: false },
            oidc_providers: [
                {
                    idp_id: "example",
                    idp_name: "Example SSO",
                    issuer: "http://127.0.0.1:9/",
                    discover: false,
                    client_id: "synapse",
                    client_secret: "secret",
                    authorization_endpoint: "http://127.0.0.1:9/auth",
                    token_endpoint: "http://127.0.0.1:9/token",
                    userinfo_endpoint: "http://127.0.0.1:9/userinfo",
                    skip_verification: true,
                    user_mapping_provider: { config: { localpart_template: "{{ user.preferred_username }}" } },
                },
            ],
        });
        try {
            await expectRejected(
                [
                    "--old-homeserver",
                    s.alice.homeserver.baseUrl,
                    "--new-homeserver",
                    sso.hs.baseUrl,
                    "--new-user",
                    `@someone:${sso.hs.serverName}`,
                ],
                { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_PASSWORD: "irrelevant" },
                /does not accept passwords here; it offers single sign-on/,
            );
        } finally {
            await sso.stop();
        }
    });
    test("a secret on the command line is refused", () =>
        expectRejected(
            [...base(), "--new-user", s.newAccount.userId, "--password", "x"],
            tokens(s),
            /only read from the environment/,
        ));
    test("missing secrets", () =>
        expectRejected([...base(), "--new-user", s.newAccount.userId], {}, /MIGRATE_OLD_ACCESS_TOKEN/));
    test("not a terminal and no --yes", () =>
        expectRejected([...base(), "--new-user", s.newAccount.userId], tokens(s), /pass --yes/));
});

describe("with a full old account", () => {
    let s: Scenario;
    let resumed: Scenario;

    beforeAll(async () => {
        [s, resumed] = await Promise.all([buildScenario(currentBed()), buildScenario(currentBed())]);
    });

    test("a dry run prints the plan and report and sends no write to either server", async () => {
        const bed = currentBed();
        const reportFile = path.join(workDir, "dry.json");
        const mark = logMark([bed.a, bed.b]);
        const result = await runCli([...baseArgs(s), "--dry-run", "--report", reportFile], tokens(s));
        // Only the two accounts' own requests: the servers keep federating in the background.
        const requests = (await requestsSince([bed.a, bed.b], mark)).filter(
            (r) => r.user === s.alice.userId || r.user === s.newAccount.userId,
        );
        expect(requests.filter((r) => r.method !== "GET")).toEqual([]);
        expect(requests.length).toBeGreaterThan(0); // it did talk to the servers
        expect(result.stderr).toMatch(/invites needed: 6/);
        expect(result.stderr).toMatch(/Dry run — nothing was changed/);
        expect(result.code).toBe(3);
        const report = JSON.parse(readFileSync(reportFile, "utf8"));
        expect(report).toMatchObject({
            version: 1,
            dryRun: true,
            invitesSent: 0,
            oldUser: s.alice.userId,
            newUser: s.newAccount.userId,
        });
        expect(report.rooms.find((r: { roomId: string }) => r.roomId === s.rooms.publicByBob)).toMatchObject({
            outcome: "migrated",
            steps: ["power 50", "join", "confirm", "room-data"],
        });
    });

    test("a full run migrates, reports per room, and exits 3 because some rooms need an admin", async () => {
        const reportFile = path.join(workDir, "full.json");
        // Discovery through .well-known on the new server's TLS listener (the run's private CA is trusted).
        const args = [
            "--old-homeserver",
            s.alice.homeserver.baseUrl,
            "--new-user",
            s.newAccount.userId,
            "--yes",
            "--report",
            reportFile,
        ];
        const result = await runCli(args, tokens(s));
        // Project team is encrypted and the CLI can read none of its keys (no key backup, no session keys): it moves,
        // but needs action for its history.
        expect({ code: result.code, stderr: result.stderr }).toEqual({
            code: 3,
            stderr: expect.stringMatching(/8 migrated/),
        });
        const report = JSON.parse(readFileSync(reportFile, "utf8"));
        expect(report.rooms.find((r: { roomId: string }) => r.roomId === s.rooms.inviteOnlyAdmin)).toMatchObject({
            outcome: "needs-action",
            newAccountJoined: true,
            reason: expect.stringMatching(
                /not fully handed over: none of the old account's keys for this room could be read/,
            ),
        });
        expect(report).toMatchObject({
            version: 1,
            oldUser: s.alice.userId,
            newUser: s.newAccount.userId,
            invitesSent: 6,
            dryRun: false,
        });
        const outcomes = Object.fromEntries(
            report.rooms.map((r: { roomId: string; outcome: string }) => [r.roomId, r.outcome]),
        );
        expect(outcomes[s.rooms.publicByBob]).toBe("migrated");
        expect(outcomes[s.rooms.cannotInvite]).toBe("needs-action");
        expect(outcomes[s.rooms.notFederated]).toBe("skipped");
        for (const room of report.rooms)
            expect(Object.keys(room)).toEqual(expect.arrayContaining(["roomId", "kind", "outcome", "reason"]));
        expect(result.stderr).toMatch(/Ask an admin: “Hi! I'm moving my Matrix account/);
    });

    test("killed in the middle and run again, it ends in the same state as an uninterrupted run", async () => {
        const args = [...baseArgs(resumed), "--yes"];
        const first = startCli(args, tokens(resumed));
        // Kill it hard once a few rooms have been joined, well before the end.
        await new Promise<void>((resolve, reject) => {
            const timer = setInterval(() => {
                if ((first.stderr().match(/ joins /g) ?? []).length >= 3) {
                    clearInterval(timer);
                    first.child.kill("SIGKILL");
                    resolve();
                }
            }, 5);
            first.done.then(() => {
                clearInterval(timer);
                reject(new Error("The first run finished before it could be killed"));
            });
        });
        const killed = await first.done;
        expect(killed.signal).toBe("SIGKILL");
        // It really stopped midway: the new account is not where the uninterrupted run left its twin.
        expect(await finalState(resumed)).not.toEqual(await finalState(s));
        const second = await runCli(args, tokens(resumed));
        expect(second.code).toBe(3);
        expect(await finalState(resumed)).toEqual(await finalState(s));
    });
});
