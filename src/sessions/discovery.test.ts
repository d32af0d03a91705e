/**
 * Discovery and sign-in against servers that misbehave: small loopback HTTP servers that stall, flood, downgrade to
 * http or claim an account they are not — the attacker's side, which no real homeserver plays. The rules are pure
 * logic; the loopback servers only make the timing and the streaming real.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";

import { checkHomeserver, discoverHomeserver, discoverSignIn, resolveNewHomeserver } from "./discovery.ts";
import { signIn } from "./signIn.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];

async function serve(handler: Handler): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

afterAll(async () => {
    for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
    }
});

const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));

/** A fetch that answers from a table (no network): URL → JSON body, and records what was asked. */
function tableFetch(table: Record<string, unknown>, asked: string[] = []): typeof fetch {
    return async (input) => {
        const url = String(input);
        asked.push(url);
        if (!(url in table)) return new Response("not found", { status: 404 });
        return new Response(JSON.stringify(table[url]), {
            status: 200,
            headers: { "Content-Type": "application/json" },
        });
    };
}

const VERSIONS = { versions: ["v1.11"] };

test("issue 7.8: a server that accepts the connection and never answers gives “not answering” after the timeout instead of hanging", async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    await expect(checkHomeserver(url, { timeoutMs: 300 })).rejects.toMatchObject({
        code: "not-answering",
        message: expect.stringMatching(/is not answering/),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
});

test("issue 7.8: a server that starts answering and then stalls mid-body also times out", async () => {
    const url = await serve((_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.write('{"versions": [');
    });
    await expect(checkHomeserver(url, { timeoutMs: 300 })).rejects.toMatchObject({ code: "not-answering" });
});

test("issue 7.8: discovery bodies are capped — a flood is cut off, also on error answers, also without Content-Length", async () => {
    let sent = 0;
    const flood: Handler = (req, res) => {
        res.writeHead(req.url?.includes("versions") ? 200 : 500, { "Content-Type": "application/json" });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
            while (sent < 50 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
            if (sent < 50 * 1024 * 1024) res.once("drain", pump);
            else res.end();
        };
        pump();
    };
    const url = await serve(flood);
    await expect(checkHomeserver(url, { maxBytes: 64 * 1024 })).rejects.toMatchObject({
        code: "not-a-homeserver",
        message: expect.stringMatching(/far more data than expected/),
    });
    // Stopped reading long before the end (the server may have pushed a little more into socket buffers).
    expect(sent).toBeLessThan(20 * 1024 * 1024);
    sent = 0;
    await expect(discoverSignIn("@me:example.org", url, { maxBytes: 64 * 1024 })).rejects.toMatchObject({
        message: expect.stringMatching(/far more data than expected/),
    });
    const declared = await serve((_req, res) =>
        res.writeHead(200, { "Content-Length": String(10 * 1024 * 1024) }).write("{"),
    );
    await expect(checkHomeserver(declared, { maxBytes: 64 * 1024 })).rejects.toMatchObject({
        message: expect.stringMatching(/far more data/),
    });
});

test("issue 7.11: a .well-known that points to plain http away from loopback is refused before anything is sent there", async () => {
    const asked: string[] = [];
    const fetchFn = tableFetch(
        {
            "https://example.org/.well-known/matrix/client": {
                "m.homeserver": { base_url: "http://matrix.example.org" },
            },
        },
        asked,
    );
    await expect(discoverHomeserver("example.org", { fetchFn })).rejects.toMatchObject({
        code: "insecure-homeserver",
        message: expect.stringMatching(
            /example\.org's \.well-known points to http:\/\/matrix\.example\.org, which is not encrypted/,
        ),
    });
    expect(asked).toEqual(["https://example.org/.well-known/matrix/client"]);
    // A typed address is held to the same rule; loopback is the one exception (local servers, tests).
    await expect(checkHomeserver("http://matrix.example.org", { fetchFn })).rejects.toMatchObject({
        code: "insecure-homeserver",
    });
    const local = tableFetch({
        "http://127.0.0.1:8008/_matrix/client/versions": VERSIONS,
        "http://localhost:8008/_matrix/client/versions": VERSIONS,
    });
    await expect(checkHomeserver("http://127.0.0.1:8008/", { fetchFn: local })).resolves.toBe("http://127.0.0.1:8008");
    await expect(checkHomeserver("http://localhost:8008", { fetchFn: local })).resolves.toBe("http://localhost:8008");
});

test("issue 7.7: with allowed_target_servers, a typed homeserver must be the one the allowed name's .well-known (or the admin) names", async () => {
    const fetchFn = tableFetch({
        "https://allowed.example/.well-known/matrix/client": {
            "m.homeserver": { base_url: "https://matrix.allowed.example" },
        },
        "https://matrix.allowed.example/_matrix/client/versions": VERSIONS,
        "https://evil.example/_matrix/client/versions": VERSIONS,
        "https://pinned.example/_matrix/client/versions": VERSIONS,
    });
    const policy = { allowedServers: ["allowed.example", "other.example"] };
    await expect(
        resolveNewHomeserver("@me:allowed.example", "https://evil.example", policy, { fetchFn }),
    ).rejects.toMatchObject({
        code: "server-not-allowed",
        message: expect.stringMatching(
            /https:\/\/evil\.example is not the homeserver of allowed\.example \(that is https:\/\/matrix\.allowed\.example\)/,
        ),
    });
    await expect(
        resolveNewHomeserver("@me:allowed.example", "https://matrix.allowed.example/", policy, { fetchFn }),
    ).resolves.toBe("https://matrix.allowed.example");
    await expect(resolveNewHomeserver("@me:allowed.example", undefined, policy, { fetchFn })).resolves.toBe(
        "https://matrix.allowed.example",
    );
    // A name without .well-known: only the address the admin listed.
    const pinned = { ...policy, allowedHomeservers: { "other.example": "https://pinned.example" } };
    await expect(resolveNewHomeserver("@me:other.example", undefined, pinned, { fetchFn })).resolves.toBe(
        "https://pinned.example",
    );
    await expect(
        resolveNewHomeserver("@me:other.example", "https://evil.example", pinned, { fetchFn }),
    ).rejects.toMatchObject({ code: "server-not-allowed" });
    // Without an allow-list, a typed address is used as it is.
    await expect(
        resolveNewHomeserver("@me:allowed.example", "https://evil.example", { allowedServers: [] }, { fetchFn }),
    ).resolves.toBe("https://evil.example");
});

test("issue 7.7: a server whose whoami names another account than it claimed at sign-in is refused, and that session signed out", async () => {
    let loggedOut = false;
    const url = await serve((req, res) => {
        if (req.url === "/_matrix/client/v3/login" && req.method === "GET")
            return json(res, 200, { flows: [{ type: "m.login.password" }] });
        if (req.url === "/_matrix/client/v3/login")
            return json(res, 200, { user_id: "@me:allowed.example", access_token: "t", device_id: "D" });
        if (req.url === "/_matrix/client/v3/account/whoami")
            return json(res, 200, { user_id: "@someone-else:allowed.example", device_id: "D" });
        if (req.url === "/_matrix/client/v3/logout") {
            loggedOut = true;
            return json(res, 200, {});
        }
        json(res, 404, { errcode: "M_UNRECOGNIZED" });
    });
    const discovery = await discoverSignIn("@me:allowed.example", url);
    expect(discovery.offer.methods.map((m) => m.kind)).toEqual(["password", "token"]);
    await expect(
        signIn(discovery, { method: "password", password: "pw" }, { deviceName: "test" }),
    ).rejects.toMatchObject({
        code: "wrong-account",
        message: expect.stringMatching(/signed in @someone-else:allowed\.example, not @me:allowed\.example/),
    });
    expect(loggedOut).toBe(true);
});

test("the offer lists OAuth 2.0 first, then each single sign-on provider, then the password; an access token last", async () => {
    const base = "https://hs.example";
    const fetchFn = tableFetch({
        [`${base}/_matrix/client/v1/auth_metadata`]: {
            issuer: "https://auth.example/",
            authorization_endpoint: "https://auth.example/authorize",
            token_endpoint: "https://auth.example/token",
            device_authorization_endpoint: "https://auth.example/device",
            grant_types_supported: [
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
        },
        [`${base}/_matrix/client/v3/login`]: {
            flows: [
                { type: "m.login.password" },
                {
                    type: "m.login.sso",
                    identity_providers: [
                        { id: "oidc-a", name: "Company login", icon: "mxc://hs.example/icon" },
                        { id: "oidc-b" },
                    ],
                },
                { type: "m.login.token" },
            ],
        },
    });
    const { offer, authMetadata } = await discoverSignIn("@me:hs.example", base, { fetchFn });
    expect(authMetadata?.issuer).toBe("https://auth.example/");
    expect(offer.methods).toEqual([
        { kind: "oauth", deviceGrant: true },
        {
            kind: "sso",
            providers: [
                { id: "oidc-a", name: "Company login", icon: "mxc://hs.example/icon", brand: undefined },
                { id: "oidc-b", name: "oidc-b", icon: undefined, brand: undefined },
            ],
        },
        { kind: "password" },
        { kind: "token" },
    ]);
    // A server that offers none of them still leaves the advanced access token.
    const bare = tableFetch({ [`${base}/_matrix/client/v3/login`]: { flows: [{ type: "m.login.recaptcha" }] } });
    expect((await discoverSignIn("@me:hs.example", base, { fetchFn: bare })).offer.methods).toEqual([
        { kind: "token" },
    ]);
});

test("issue 15.1: OAuth 2.0 metadata naming a javascript: sign-in page (or any address that is not https / loopback http) is refused whole, before anything signs in", async () => {
    const base = "https://hs.example";
    const good = {
        issuer: "https://auth.example/",
        authorization_endpoint: "https://auth.example/authorize",
        token_endpoint: "https://auth.example/token",
        registration_endpoint: "https://auth.example/register",
        revocation_endpoint: "https://auth.example/revoke",
        device_authorization_endpoint: "https://auth.example/device",
        account_management_uri: "https://auth.example/account",
    };
    for (const [field, value] of [
        ["authorization_endpoint", "javascript:window.opener.mxMatrixClientPeg"],
        ["issuer", "data:text/html,x"],
        ["token_endpoint", "http://auth.example/token"],
        ["registration_endpoint", "file:///etc/passwd"],
        ["revocation_endpoint", "element://x"],
        ["device_authorization_endpoint", "javascript:alert(1)"],
        ["account_management_uri", "javascript:alert(1)"],
    ] as const) {
        const asked: string[] = [];
        const fetchFn = tableFetch(
            {
                [`${base}/_matrix/client/v1/auth_metadata`]: { ...good, [field]: value },
                [`${base}/_matrix/client/v3/login`]: { flows: [{ type: "m.login.password" }] },
            },
            asked,
        );
        await expect(discoverSignIn("@me:hs.example", base, { fetchFn })).rejects.toMatchObject({
            code: "unsafe-url",
            message: expect.stringContaining("this tool will not open"),
        });
        expect(asked.every((u) => u.startsWith(base))).toBe(true);
    }
});

test("issue 15.2: a homeserver that redirects discovery to plain http away from loopback is not followed — nothing reaches that address", async () => {
    let reached = 0;
    const elsewhere = await serve((_req, res) => {
        reached++;
        json(res, 200, VERSIONS);
    });
    const port = new URL(elsewhere).port;
    // 0.0.0.0 reaches this machine, but it is not a loopback address: to this tool it is plain http on the network.
    const url = await serve((req, res) => res.writeHead(302, { Location: `http://0.0.0.0:${port}${req.url}` }).end());
    await expect(checkHomeserver(url)).rejects.toMatchObject({
        code: "unreachable",
        message: expect.stringMatching(
            /redirected to http:\/\/0\.0\.0\.0:\d+\/_matrix\/client\/versions, which is not followed/,
        ),
    });
    expect(reached).toBe(0);
    // The same redirect to loopback http is followed.
    const fine = await serve((req, res) => res.writeHead(302, { Location: `${elsewhere}${req.url}` }).end());
    await expect(checkHomeserver(fine)).resolves.toBe(fine);
    expect(reached).toBe(1);
});

test("issue 15.2: *.localhost is not loopback: a homeserver there over plain http is refused", async () => {
    await expect(checkHomeserver("http://matrix.localhost:8008")).rejects.toMatchObject({
        code: "insecure-homeserver",
    });
});
