/**
 * The OAuth 2.0 client against a small loopback authorization server that plays the hostile (or broken) side — no
 * real server would: an approval page that is a `javascript:` address (issue 15.1); endpoints that never answer, an
 * `interval` of an hour, a code valid for days, a poll that Cancel must stop (issue 15.6). The protocol's URL and
 * answer checks are matrix-js-sdk's; the requests are the module's (timeouts, cancel, caps).
 */
import { type IncomingMessage, type Server, createServer } from "node:http";

import type { AuthMetadata } from "./discovery.ts";
import {
    DEVICE_CODE_LIFETIME_MS,
    registeredRedirectUri,
    signInWithAuthorizationCode,
    signInWithDeviceGrant,
} from "./oauth.ts";

let server: Server;
let base: string;
const asked: string[] = [];
/** Bodies of the POSTs, by path. */
const bodies: Record<string, URLSearchParams[]> = {};
let verification: Record<string, unknown> = {};
/** Paths that never answer (a server that took the connection and stalls). */
let hanging = new Set<string>();
/** Answers of the token endpoint, one per poll; the last one repeats. */
let tokenAnswers: Array<[number, unknown]> = [[400, { error: "authorization_pending" }]];

const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
        let text = "";
        req.on("data", (c: Buffer) => (text += c.toString()));
        req.on("end", () => resolve(text));
    });

beforeAll(async () => {
    server = createServer(async (req, res) => {
        asked.push(`${req.method} ${req.url}`);
        const body = await readBody(req);
        (bodies[req.url ?? ""] ??= []).push(new URLSearchParams(body));
        if (hanging.has(req.url ?? "")) return; // never answers
        const send = (status: number, answer: unknown) =>
            res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(answer));
        if (req.url === "/register") return send(201, { client_id: "client" });
        if (req.url === "/device")
            return send(200, {
                device_code: "dc",
                user_code: "ABCD",
                expires_in: 600,
                interval: 1,
                verification_uri: `${base}/approve`,
                ...verification,
            });
        if (req.url === "/token") {
            const [status, answer] = tokenAnswers.length > 1 ? tokenAnswers.shift()! : tokenAnswers[0];
            return send(status, answer);
        }
        if (req.url === "/revoke") return send(200, {});
        send(400, { error: "invalid_request" });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

beforeEach(() => {
    asked.length = 0;
    for (const key of Object.keys(bodies)) delete bodies[key];
    verification = {};
    hanging = new Set();
    tokenAnswers = [[400, { error: "authorization_pending" }]];
});

afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
});

const metadata = (): AuthMetadata => ({
    issuer: `${base}/`,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    revocation_endpoint: `${base}/revoke`,
    device_authorization_endpoint: `${base}/device`,
    response_types_supported: ["code"],
    response_modes_supported: ["query", "fragment"],
    grant_types_supported: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    code_challenge_methods_supported: ["S256"],
});

const client = {
    clientName: "test",
    clientUri: "http://127.0.0.1/",
    applicationType: "native" as const,
    redirectUri: "http://127.0.0.1/callback",
};

test.each([
    [{ verification_uri: "javascript:alert(1)" }, /approval page \(verification_uri\) .*“javascript:alert\(1\)”/],
    [
        { verification_uri: `${"http://127.0.0.1:1"}/device`, verification_uri_complete: "data:text/html,x" },
        /approval page \(verification_uri_complete\) .*“data:text\/html,x”/,
    ],
    [{ verification_uri: "http://auth.example/device" }, /approval page \(verification_uri\)/],
])(
    "issue 15.1: a device grant naming %j as its approval page is refused: nothing shown, nothing polled",
    async (v, message) => {
        verification = v;
        asked.length = 0;
        const shown: unknown[] = [];
        await expect(
            signInWithDeviceGrant(base, metadata(), client, (p) => shown.push(p), AbortSignal.timeout(5_000)),
        ).rejects.toMatchObject({ code: "unsafe-url", message: expect.stringMatching(message) });
        expect(shown).toEqual([]);
        expect(asked).toEqual(["POST /register", "POST /device"]);
    },
);

describe("issue 15.6: every request to the authorization server has a time limit", () => {
    test.each([
        ["/register", /no reply to the client registration within 0.3 s/],
        ["/device", /no reply to the request for a sign-in code within 0.3 s/],
        ["/token", /no reply to the check for approval within 0.3 s/],
    ])("an authorization server whose %s never answers: the sign-in fails with a timeout", async (path, message) => {
        hanging = new Set([path]);
        const started = Date.now();
        await expect(
            signInWithDeviceGrant(base, metadata(), client, () => undefined, undefined, {
                timeoutMs: 300,
                sleep: async () => undefined,
            }),
        ).rejects.toMatchObject({
            code: "not-answering",
            message: expect.stringMatching(message),
        });
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(asked).toContain(`POST ${path}`);
    });
});

test("issue 15.6: a token endpoint that never answers the code exchange: the sign-in fails with a timeout", async () => {
    hanging = new Set(["/token"]);
    const browser = {
        redirectUri: "http://127.0.0.1/callback",
        responseMode: "query" as const,
        open: async (_url: string, state: string) => new URLSearchParams({ code: "the-code", state }),
    };
    await expect(
        signInWithAuthorizationCode(base, metadata(), client, browser, { timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: "not-answering", message: expect.stringMatching(/no reply to the code exchange/) });
    expect(Object.fromEntries(bodies["/token"][0])).toMatchObject({
        grant_type: "authorization_code",
        code: "the-code",
    });
});

describe("issue 15.6: the device-grant poll", () => {
    /** Runs a device grant with a recording sleep; returns the waits asked for and the prompt shown. */
    async function poll(
        grant: Record<string, unknown>,
        answers: Array<[number, unknown]>,
        signal?: AbortSignal,
        onSleep?: (n: number) => void,
    ) {
        verification = grant;
        tokenAnswers = answers;
        const waits: number[] = [];
        const prompts: Array<{ expiresAt: number }> = [];
        const before = Date.now();
        const result = signInWithDeviceGrant(base, metadata(), client, (p) => prompts.push(p), signal, {
            sleep: async (ms) => {
                waits.push(ms);
                onSleep?.(waits.length);
            },
        });
        return { result, waits, prompts, before };
    }

    const approved: [number, unknown] = [
        200,
        { access_token: "at", token_type: "Bearer", refresh_token: "rt", expires_in: 300 },
    ];

    test("an interval of an hour is clamped to 30 s; slow_down adds 5 s, within that cap", async () => {
        const { result, waits } = await poll({ interval: 3600 }, [
            [400, { error: "authorization_pending" }],
            [400, { error: "slow_down" }],
            approved,
        ]);
        await expect(result).resolves.toMatchObject({ method: "oauth" });
        expect(waits).toEqual([30_000, 30_000, 30_000]);

        const slowed = await poll({ interval: 2 }, [
            [400, { error: "slow_down" }],
            [400, { error: "slow_down" }],
            approved,
        ]);
        await slowed.result;
        expect(slowed.waits).toEqual([2_000, 7_000, 12_000]);

        const eager = await poll({ interval: 0 }, [approved]);
        await eager.result;
        expect(eager.waits).toEqual([1_000]);
    });

    test("a code the server calls valid for days is shown (and polled) for 30 min at most; a 1 s one for 30 s", async () => {
        const long = await poll({ expires_in: 10 ** 9 }, [approved]);
        await long.result;
        expect(long.prompts[0].expiresAt - long.before).toBeLessThanOrEqual(DEVICE_CODE_LIFETIME_MS.max + 1_000);
        expect(long.prompts[0].expiresAt - long.before).toBeGreaterThan(DEVICE_CODE_LIFETIME_MS.max - 5_000);
        const short = await poll({ expires_in: 1 }, [approved]);
        await short.result;
        expect(short.prompts[0].expiresAt - short.before).toBeGreaterThanOrEqual(DEVICE_CODE_LIFETIME_MS.min - 1_000);
    });

    test("Cancel stops the poll at once: no further request reaches the server", async () => {
        const cancel = new AbortController();
        const { result } = await poll(
            { interval: 1 },
            [[400, { error: "authorization_pending" }]],
            cancel.signal,
            (n) => {
                if (n === 3) cancel.abort();
            },
        );
        await expect(result).rejects.toMatchObject({ code: "sign-in-cancelled" });
        const polls = asked.filter((a) => a === "POST /token").length;
        expect(polls).toBe(2);
        await new Promise((r) => setTimeout(r, 300));
        expect(asked.filter((a) => a === "POST /token").length).toBe(polls);
    });

    test("Cancel during the real wait between polls ends it without waiting out the interval", async () => {
        verification = { interval: 30 };
        const cancel = new AbortController();
        const started = Date.now();
        const result = signInWithDeviceGrant(
            base,
            metadata(),
            client,
            () => setTimeout(() => cancel.abort(), 50),
            cancel.signal,
        );
        await expect(result).rejects.toMatchObject({ code: "sign-in-cancelled" });
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(asked).not.toContain("POST /token");
    });

    test("the CLI's own time limit for an approval ends the poll with a clear timeout", async () => {
        verification = { interval: 30 };
        await expect(
            signInWithDeviceGrant(base, metadata(), client, () => undefined, AbortSignal.timeout(200)),
        ).rejects.toMatchObject({
            code: "sign-in-timeout",
            message: expect.stringMatching(/No approval arrived in time/),
        });
    });
});

test("issue 15.6: closing the tab revokes an OAuth 2.0 session with keepalive requests to the revocation endpoint", async () => {
    tokenAnswers = [[200, { access_token: "at-1", token_type: "Bearer", refresh_token: "rt-1", expires_in: 300 }]];
    const sent: Array<{ url: string; keepalive?: boolean }> = [];
    const fetchFn: typeof fetch = (input, init) => {
        sent.push({ url: String(input), keepalive: init?.keepalive });
        return fetch(input, init);
    };
    const session = await signInWithDeviceGrant(base, metadata(), client, () => undefined, undefined, {
        fetchFn,
        sleep: async () => undefined,
    });
    sent.length = 0;
    session.signOutOnPageHide();
    await new Promise((r) => setTimeout(r, 300));
    const revocations = sent.filter((r) => r.url === `${base}/revoke`);
    expect(revocations).toEqual([
        { url: `${base}/revoke`, keepalive: true },
        { url: `${base}/revoke`, keepalive: true },
    ]);
    expect(bodies["/revoke"].map((b) => Object.fromEntries(b))).toEqual([
        { token: "rt-1", token_type_hint: "refresh_token", client_id: "client" },
        { token: "at-1", token_type_hint: "access_token", client_id: "client" },
    ]);
    // Once: a later sign-out (Finish racing the tab's close) sends nothing more.
    await session.signOut();
    expect(bodies["/revoke"]).toHaveLength(2);
});

test("a native client registers its loopback redirect without the port (RFC 8252; MAS matches any port only then), a web client's as it is", () => {
    const native = { clientName: "x", clientUri: "http://127.0.0.1/", applicationType: "native" as const };
    expect(registeredRedirectUri(native, "http://127.0.0.1:44975/callback")).toBe("http://127.0.0.1/callback");
    expect(registeredRedirectUri(native, "http://[::1]:8080/callback")).toBe("http://[::1]/callback");
    expect(registeredRedirectUri(native, "https://example.org:8443/callback")).toBe(
        "https://example.org:8443/callback",
    );
    const web = { ...native, applicationType: "web" as const };
    expect(registeredRedirectUri(web, "http://127.0.0.1:8080/callback.html")).toBe(
        "http://127.0.0.1:8080/callback.html",
    );
});
