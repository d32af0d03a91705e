/**
 * The built CLI (dist/cli), run as a separate process against the two real servers: a dry run that provably writes
 * nothing, a full run with its JSON report, and a run killed midway then resumed. (Bad input, for the CLI and the
 * page alike, is the table in tests/badInput.)
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { seg } from "../../src/sessions/matrixHttp.ts";
import { logMark, requestsSince } from "../bed/accessLog.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Actor, type Scenario, buildScenario, getAccountData, getState } from "../support/scenario.ts";
import { runCli, startCli } from "./cliProcess.ts";
import { cliArgs } from "../support/cli.ts";

const workDir = mkdtempSync(path.join(tmpdir(), "migrate-cli-"));

function tokens(s: { alice: Actor; newAccount: Actor }): Record<string, string> {
    return { MIGRATE_OLD_ACCESS_TOKEN: s.alice.accessToken, MIGRATE_NEW_ACCESS_TOKEN: s.newAccount.accessToken };
}

function baseArgs(s: Scenario): string[] {
    return cliArgs({
        oldHomeserver: s.alice.homeserver.baseUrl,
        newUser: s.newAccount.userId,
        newHomeserver: s.newAccount.homeserver.baseUrl,
    });
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
