/** Refreshing OAuth 2.0 sessions: the token rules alone (the bed's OAuth tests run them against a real server). */
import { RefreshingTokens, type TokenEndpoint, type TokenSet } from "./session.ts";

function fakeEndpoint(): TokenEndpoint & { refreshed: string[]; revoked: TokenSet[] } {
    let n = 0;
    const self = {
        refreshed: [] as string[],
        revoked: [] as TokenSet[],
        async refresh(refreshToken: string): Promise<TokenSet> {
            self.refreshed.push(refreshToken);
            await new Promise((r) => setTimeout(r, 5));
            n++;
            return { accessToken: `access-${n}`, refreshToken: `refresh-${n}`, expiresAt: Date.now() + 60_000 };
        },
        async revoke(tokens: TokenSet) {
            self.revoked.push(tokens);
        },
    };
    return self;
}

/** A server that knows one valid token at a time and answers 401 M_UNKNOWN_TOKEN otherwise. */
function server(valid: () => string): typeof fetch & { seen: string[] } {
    const seen: string[] = [];
    const f = (async (_input: RequestInfo | URL, init?: RequestInit) => {
        const token = new Headers(init?.headers).get("Authorization")?.replace("Bearer ", "") ?? "";
        seen.push(token);
        return token === valid()
            ? new Response("{}", { status: 200 })
            : new Response(JSON.stringify({ errcode: "M_UNKNOWN_TOKEN", error: "Token is not active" }), {
                  status: 401,
              });
    }) as typeof fetch & { seen: string[] };
    f.seen = seen;
    return f;
}

test("a token the server no longer accepts is refreshed once and the request repeated with the new one", async () => {
    const endpoint = fakeEndpoint();
    const fetchFn = server(() => "access-1");
    const tokens = new RefreshingTokens(
        { accessToken: "access-0", refreshToken: "refresh-0", expiresAt: Date.now() + 60_000 },
        endpoint,
        fetchFn,
    );
    const response = await tokens.fetch("https://hs.example/_matrix/client/v3/account/whoami", {
        headers: { Authorization: "Bearer access-0" },
    });
    expect(response.status).toBe(200);
    expect(fetchFn.seen).toEqual(["access-0", "access-1"]);
    expect(endpoint.refreshed).toEqual(["refresh-0"]);
    expect(tokens.current()).toBe("access-1");
});

test("shortly before expiry the token is refreshed first; concurrent requests share one refresh", async () => {
    const endpoint = fakeEndpoint();
    const fetchFn = server(() => "access-1");
    const issued = Date.now();
    let now = issued;
    const tokens = new RefreshingTokens(
        { accessToken: "access-0", refreshToken: "refresh-0", expiresAt: issued + 3_000 },
        endpoint,
        fetchFn,
        () => now,
    );
    now = issued + 2_500; // less than a third of its life left
    const responses = await Promise.all([tokens.fetch("https://hs.example/a"), tokens.fetch("https://hs.example/b")]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(endpoint.refreshed).toEqual(["refresh-0"]);
    expect(fetchFn.seen).toEqual(["access-1", "access-1"]);
});

test("other 401s (a server asking for approval) are passed through untouched", async () => {
    const endpoint = fakeEndpoint();
    const fetchFn = (async () =>
        new Response(JSON.stringify({ flows: [{ stages: ["m.login.password"] }], session: "s" }), {
            status: 401,
        })) as typeof fetch;
    const tokens = new RefreshingTokens(
        { accessToken: "a", refreshToken: "r", expiresAt: Date.now() + 60_000 },
        endpoint,
        fetchFn,
    );
    expect((await tokens.fetch("https://hs.example/keys/device_signing/upload")).status).toBe(401);
    expect(endpoint.refreshed).toEqual([]);
});

test("a refresh the server refuses becomes a clear “sign in again”; after sign-out nothing refreshes", async () => {
    const endpoint: TokenEndpoint = {
        refresh: async () => {
            throw new Error("invalid_grant");
        },
        revoke: async () => undefined,
    };
    const tokens = new RefreshingTokens(
        { accessToken: "a", refreshToken: "r" },
        endpoint,
        server(() => "never"),
    );
    await expect(tokens.fetch("https://hs.example/x")).rejects.toMatchObject({
        code: "expired-token",
        message: expect.stringMatching(/could not be renewed .*sign in again/),
    });
    await tokens.revoke();
    await expect(tokens.refresh()).rejects.toMatchObject({ code: "expired-token" });
});
