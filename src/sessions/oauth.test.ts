/**
 * The device authorization grant with a server that names a `javascript:` (or other unchecked) approval page
 * (issue 15.1): refused before the page is shown or polled for. A small loopback authorization server plays the
 * hostile side (no real server would); the protocol is matrix-js-sdk's.
 */
import { type Server, createServer } from "node:http";

import type { AuthMetadata } from "./discovery.ts";
import { signInWithDeviceGrant } from "./oauth.ts";

let server: Server;
let base: string;
const asked: string[] = [];
let verification: Record<string, string> = {};

beforeAll(async () => {
    server = createServer((req, res) => {
        asked.push(`${req.method} ${req.url}`);
        const send = (status: number, body: unknown) =>
            res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
        if (req.url === "/register") return send(201, { client_id: "client" });
        if (req.url === "/device")
            return send(200, { device_code: "dc", user_code: "ABCD", expires_in: 600, interval: 1, ...verification });
        send(400, { error: "invalid_request" });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
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
