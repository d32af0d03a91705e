/**
 * The old side's requests use Element's access token, which Element renews while a long migration runs (issue 15.8).
 * A request whose token the server no longer knows is repeated once with the token the host holds now — after
 * asking the host to renew it, when it still holds the old one. Real Synapse: a token that was signed out gets its
 * real 401 M_UNKNOWN_TOKEN; a second real session of the same account stands in for the token Element renewed to.
 */
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { MatrixHttp, MatrixRequestError } from "../../src/sessions/matrixHttp.ts";

/** An account with two sessions; the first is signed out, as a token Element has since replaced. */
async function accountWithReplacedToken() {
    const hs = currentBed().a;
    const user = await registerUser(hs, uniqueLocalpart("token-renewed"));
    const login = await fetch(`${hs.baseUrl}/_matrix/client/v3/login`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: user.userId },
            password: user.password,
        }),
    });
    const renewed = ((await login.json()) as { access_token: string }).access_token;
    const logout = await fetch(`${hs.baseUrl}/_matrix/client/v3/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${user.accessToken}` },
    });
    expect(logout.status).toBe(200);
    return { hs, user, old: user.accessToken, renewed };
}

/** fetch that records the token of every request. */
function recordingFetch() {
    const tokens: string[] = [];
    const fetchFn: typeof fetch = (input, init) => {
        tokens.push(new Headers(init?.headers).get("Authorization")?.replace("Bearer ", "") ?? "");
        return fetch(input, init);
    };
    return { tokens, fetchFn };
}

test("a token the host renewed while the request was on its way: the request is repeated once with the new one", async () => {
    const { hs, user, old, renewed } = await accountWithReplacedToken();
    const { tokens, fetchFn } = recordingFetch();
    let reads = 0;
    // The first read gives the token before the host renewed it; every later read the renewed one.
    const http = new MatrixHttp(hs.baseUrl, () => (reads++ === 0 ? old : renewed), fetchFn);
    const whoami = await http.request<{ user_id: string }>("GET", "/account/whoami");
    expect(whoami.user_id).toBe(user.userId);
    expect(tokens).toEqual([old, renewed]);
});

test("the host still holds the unknown token: it is asked to renew it, then the request is repeated once", async () => {
    const { hs, user, old, renewed } = await accountWithReplacedToken();
    const { tokens, fetchFn } = recordingFetch();
    let current = old;
    let renewals = 0;
    const http = new MatrixHttp(
        hs.baseUrl,
        () => current,
        fetchFn,
        undefined,
        async () => {
            renewals++;
            current = renewed; // what Element's client does on its own M_UNKNOWN_TOKEN
        },
    );
    const whoami = await http.request<{ user_id: string }>("GET", "/account/whoami");
    expect(whoami.user_id).toBe(user.userId);
    expect(renewals).toBe(1);
    expect(tokens).toEqual([old, renewed]);
});

test("a host that cannot renew, or a fixed token: the 401 stands, after at most one attempt", async () => {
    const { hs, old } = await accountWithReplacedToken();
    const unrenewable = recordingFetch();
    let renewals = 0;
    const http = new MatrixHttp(
        hs.baseUrl,
        () => old,
        unrenewable.fetchFn,
        undefined,
        async () => {
            renewals++;
            throw new Error("Element is signed out");
        },
    );
    const error = await http.request("GET", "/account/whoami").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MatrixRequestError);
    expect(error).toMatchObject({ httpStatus: 401, errcode: "M_UNKNOWN_TOKEN" });
    expect(renewals).toBe(1);
    expect(unrenewable.tokens).toEqual([old]);

    const fixed = recordingFetch();
    await expect(
        new MatrixHttp(hs.baseUrl, old, fixed.fetchFn).request("GET", "/account/whoami"),
    ).rejects.toMatchObject({ httpStatus: 401 });
    expect(fixed.tokens).toEqual([old]);
});
