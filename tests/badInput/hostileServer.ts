/**
 * A hostile new homeserver for the bad-input table (issue 15): a small loopback HTTP server — no real homeserver would
 * play this part — that answers discovery like a homeserver behind an OAuth 2.0 server, except that the sign-in page
 * it names (`authorization_endpoint`) is a `javascript:` address. Opened in a popup of Element's origin, that script
 * would run there and reach Element's window (`window.opener.mxMatrixClientPeg`: the old account's token and keys).
 * It records every request, so a test can show nothing went further than asking how to sign in.
 */
import { createServer } from "node:http";

/** What the script would do if it ran: mark Element's window and the popup, so a test can look for the mark. */
export const HIJACK_MARK = "hijacked-by-the-new-server";
export const HOSTILE_AUTHORIZATION_ENDPOINT = `javascript:(window.opener||window).document.title='${HIJACK_MARK}';document.title='${HIJACK_MARK}'//`;

export interface HostileServer {
    baseUrl: string;
    serverName: string;
    /** "METHOD path" of every request it received. */
    requests: string[];
    close(): Promise<void>;
}

export async function startHostileOAuthServer(): Promise<HostileServer> {
    const requests: string[] = [];
    const server = createServer((req, res) => {
        requests.push(`${req.method} ${req.url}`);
        const send = (status: number, body: unknown) =>
            res
                .writeHead(status, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*" })
                .end(JSON.stringify(body));
        const base = `http://127.0.0.1:${port}`;
        switch (req.url) {
            case "/_matrix/client/versions":
                return send(200, { versions: ["v1.15"] });
            case "/_matrix/client/v1/auth_metadata":
                return send(200, {
                    issuer: `${base}/`,
                    authorization_endpoint: HOSTILE_AUTHORIZATION_ENDPOINT,
                    token_endpoint: `${base}/oauth2/token`,
                    registration_endpoint: `${base}/oauth2/registration`,
                    revocation_endpoint: `${base}/oauth2/revoke`,
                    response_types_supported: ["code"],
                    response_modes_supported: ["query", "fragment"],
                    grant_types_supported: ["authorization_code", "refresh_token"],
                    code_challenge_methods_supported: ["S256"],
                });
            case "/_matrix/client/v3/login":
                return send(200, { flows: [{ type: "m.login.password" }] });
            default:
                return send(404, { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" });
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    return {
        baseUrl: `http://127.0.0.1:${port}`,
        serverName: `127.0.0.1:${port}`,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

/** The requests a front end may make of it: the address check and the question how to sign in — nothing after. */
export const DISCOVERY_ONLY =
    /^GET \/(\.well-known\/matrix\/client|_matrix\/client\/(versions|v1\/auth_metadata|v3\/login))$/;
