/**
 * A STAND-IN for a homeserver that wants approval of an account's first cross-signing keys, as servers did before
 * Matrix 1.11 — Synapse no longer asks (MSC3967), so the page's approval prompt cannot be reached against it: a
 * reverse proxy in front of a real Synapse. The first `POST …/keys/device_signing/upload` without approval gets a
 * user-interactive-auth 401 asking either for the account's password (`m.login.password`) or for approval on a page
 * this stand-in serves (`m.oauth`, like an OAuth 2.0 server's account page); once approved, the upload goes on to
 * Synapse. Every other request passes through unchanged. Hand-written: no package plays this part.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export type ApprovalKind = { kind: "password"; password: string } | { kind: "page" };

export interface ApprovalStandIn {
    /** The homeserver address to give the page (http on loopback). */
    url: string;
    /** Passwords received for approval, in order. */
    passwordsReceived: string[];
    /** Times the approval page was opened. */
    pageVisits(): number;
    /** Cross-signing uploads that went on to Synapse. */
    uploadsForwarded(): number;
    close(): Promise<void>;
}

const CORS = { "Access-Control-Allow-Origin": "*", "Content-Type": "application/json" };

export async function startApprovalStandIn(synapseBaseUrl: string, approval: ApprovalKind): Promise<ApprovalStandIn> {
    const session = randomBytes(8).toString("hex");
    const passwordsReceived: string[] = [];
    let approved = false;
    let visits = 0;
    let forwarded = 0;
    let url = "";

    const forward = (req: http.IncomingMessage, res: http.ServerResponse, body?: Buffer) => {
        const target = new URL(req.url ?? "/", synapseBaseUrl);
        const headers = {
            ...req.headers,
            host: target.host,
            ...(body ? { "content-length": String(body.length) } : {}),
        };
        const out = http.request(target, { method: req.method, headers }, (back) => {
            res.writeHead(back.statusCode ?? 502, back.headers);
            back.pipe(res);
        });
        out.on("error", (e) =>
            res.writeHead(502, CORS).end(JSON.stringify({ errcode: "M_UNKNOWN", error: e.message })),
        );
        if (body) out.end(body);
        else req.pipe(out);
    };
    const askForApproval = (res: http.ServerResponse, extra: Record<string, unknown> = {}) => {
        const flows = approval.kind === "password" ? [{ stages: ["m.login.password"] }] : [{ stages: ["m.oauth"] }];
        const params =
            approval.kind === "page" ? { "m.oauth": { url: `${url}/account/approve?session=${session}` } } : {};
        res.writeHead(401, CORS).end(JSON.stringify({ session, flows, params, completed: [], ...extra }));
    };

    const server = http.createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://stand-in").pathname;
        if (req.method === "GET" && path === "/account/approve") {
            visits++;
            approved = true;
            res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(
                "<!doctype html><title>Approved</title><p>Approved. You can close this tab.</p>",
            );
            return;
        }
        if (req.method !== "POST" || !path.endsWith("/keys/device_signing/upload")) return forward(req, res);
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as {
                auth?: { type?: string; password?: string; session?: string };
            };
            if (!approved && approval.kind === "password" && body.auth?.type === "m.login.password") {
                passwordsReceived.push(body.auth.password ?? "");
                if (body.auth.password !== approval.password || body.auth.session !== session) {
                    return askForApproval(res, { errcode: "M_FORBIDDEN", error: "Invalid password" });
                }
                approved = true;
            }
            if (!approved) return askForApproval(res);
            forwarded++;
            delete body.auth;
            forward(req, res, Buffer.from(JSON.stringify(body)));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
        url,
        passwordsReceived,
        pageVisits: () => visits,
        uploadsForwarded: () => forwarded,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
