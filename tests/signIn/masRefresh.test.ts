/**
 * Token refresh in the middle of a run, on the REAL Matrix Authentication Service (tests/bed/mas.ts) set to issue
 * access tokens that live 3 s (MAS's `experimental.access_token_ttl`; its default is 300 s). The CLI migrates a small
 * account on the MAS-backed Synapse, both sides signed in through MAS, reaching Synapse through the bed's loopback
 * proxy so every request's token is seen. What MAS's own database then shows is the proof: how many access tokens
 * each session had, when each was issued, and that each refresh consumed the refresh token before it (MAS rotates
 * them).
 *
 * Synapse caches MAS's introspection answers for about 2 minutes, but keeps each answer's `expires_in`: an expired
 * token is refused even while cached (checked below), so the run can only go on by refreshing.
 */
import { currentBed } from "../bed/jestGlobal.ts";
import { type RealMas, startRealMas } from "../bed/mas.ts";
import { MasPerson } from "../bed/masPerson.ts";
import { startCli } from "../cli/cliProcess.ts";
import { type Token, api, deviceCodePrompt, tokenOf } from "./masSupport.ts";

const TTL_S = 3;
let mas: RealMas;

beforeAll(async () => {
    mas = await startRealMas(currentBed().stateDir, { accessTokenTtl: TTL_S });
}, 60_000);

afterAll(async () => {
    await mas?.stop();
});

interface IssuedToken {
    token: string;
    createdAt: number;
    expiresAt: number;
}

/** The access tokens MAS issued to the CLI's session for `localpart`, oldest first (epoch ms). */
async function cliAccessTokens(localpart: string): Promise<IssuedToken[]> {
    const rows = await mas.sql(`
        SELECT a.access_token, (extract(epoch FROM a.created_at) * 1000)::bigint,
               (extract(epoch FROM a.expires_at) * 1000)::bigint
        FROM oauth2_access_tokens a
        JOIN oauth2_sessions s USING (oauth2_session_id)
        JOIN oauth2_clients c USING (oauth2_client_id)
        JOIN users u ON u.user_id = s.user_id
        WHERE c.client_name = 'Account migration (CLI)' AND u.username = '${localpart}'
        ORDER BY a.created_at`);
    return rows.map(([token, created, expires]) => ({
        token,
        createdAt: Number(created),
        expiresAt: Number(expires),
    }));
}

/** The CLI session's refresh tokens for `localpart`: how many, and how many a refresh has consumed. */
async function cliRefreshTokens(localpart: string): Promise<{ issued: number; consumed: number; chained: number }> {
    const [[issued, consumed, chained]] = await mas.sql(`
        SELECT count(*), count(r.consumed_at), count(r.next_oauth2_refresh_token_id)
        FROM oauth2_refresh_tokens r
        JOIN oauth2_sessions s USING (oauth2_session_id)
        JOIN oauth2_clients c USING (oauth2_client_id)
        JOIN users u ON u.user_id = s.user_id
        WHERE c.client_name = 'Account migration (CLI)' AND u.username = '${localpart}'`);
    return { issued: Number(issued), consumed: Number(consumed), chained: Number(chained) };
}

test(`CLI on the real MAS with ${TTL_S} s access tokens: a migration that outlives several tokens on both sides refreshes each session when its token nears expiry (refresh tokens rotated at MAS), every refreshed token carries the run's requests, and the run finishes`, async () => {
    const [oldUser, newUser] = mas.users;
    const seed: Token = await tokenOf(mas, 0);
    // In parallel: the seed token lives 3 s. Five: the MAS bed's Synapse lets one account send five invites at once, then one every ~5½ minutes.
    const rooms = await Promise.all(
        Array.from(
            { length: 5 },
            async (_, i) =>
                (await api(mas, seed, "POST", "createRoom", { name: `mas-refresh-${i}`, preset: "private_chat" }))
                    .room_id as string,
        ),
    );
    const cli = startCli(
        [
            "--old-homeserver",
            mas.proxyUrl,
            "--old-user",
            oldUser.userId,
            "--old-sign-in",
            "device",
            "--new-user",
            newUser.userId,
            "--new-homeserver",
            mas.proxyUrl,
            "--new-sign-in",
            "device",
            "--set-up-new-backup",
            "--yes",
        ],
        {},
    );
    for (const [nth, user] of [oldUser, newUser].entries()) {
        const prompt = await deviceCodePrompt(cli, nth);
        await new MasPerson(user.localpart, user.password).answerDeviceCode(prompt.uri, prompt.code, "consent");
    }
    const result = await Promise.race([
        cli.done,
        new Promise<never>((_, reject) =>
            setTimeout(() => {
                cli.child.kill("SIGKILL");
                reject(new Error(`the CLI did not finish; stderr:\n${cli.stderr()}`));
            }, 60_000),
        ),
    ]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 0,
        stderr: expect.stringMatching(/5 migrated, \d+ already done, 0 need action, 0 skipped, 0 failed/),
    });

    // Synapse had this token's introspection cached from the seeding, yet refuses it now that it has expired.
    const stale = await fetch(`${mas.synapseUrl}/_matrix/client/v3/account/whoami`, {
        headers: { authorization: `Bearer ${seed.accessToken}` },
    });
    expect({ status: stale.status, errcode: ((await stale.json()) as { errcode?: string }).errcode }).toEqual({
        status: 401,
        errcode: "M_UNKNOWN_TOKEN",
    });

    const sentTokens = new Set(mas.proxied.map((r) => r.bearer));
    let total = 0;
    for (const user of [oldUser, newUser]) {
        const issued = await cliAccessTokens(user.localpart);
        // The run outlived this session's first token: it refreshed at least once (measured: old 3, new 2 tokens).
        expect(issued.length).toBeGreaterThanOrEqual(2);
        total += issued.length;
        // MAS really issued short tokens (the setting took effect).
        for (const t of issued) expect(t.expiresAt - t.createdAt).toBe(TTL_S * 1000);
        // Refreshed because the token neared its expiry, not at random: the CLI refreshes in a token's last third,
        // so a token lives at least two thirds of its time (less a little for the clock's rounding).
        for (let i = 1; i < issued.length; i++)
            expect(issued[i].createdAt - issued[i - 1].createdAt).toBeGreaterThanOrEqual((TTL_S * 1000 * 2) / 3 - 250);
        // Each refreshed token was used: every one of them reached Synapse with the run's requests.
        expect(issued.filter((t) => sentTokens.has(t.token)).length).toBe(issued.length);
        // MAS rotates refresh tokens: each refresh consumed the one before (one per access token, the last unused).
        expect(await cliRefreshTokens(user.localpart)).toEqual({
            issued: issued.length,
            consumed: issued.length - 1,
            chained: issued.length - 1,
        });
    }

    expect(total).toBeGreaterThanOrEqual(5);

    const neu = await tokenOf(mas, 1);
    expect((await api(mas, neu, "GET", "joined_rooms")).joined_rooms).toEqual(expect.arrayContaining(rooms));
}, 180_000);
