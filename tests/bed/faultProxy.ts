/**
 * A proxy on loopback in front of a real homeserver's client API. It forwards every request, except those `decide`
 * gives a fault to — what a flaky network, an overloaded server or a broken middlebox does:
 * - `error`: answered with that 5xx at once, never forwarded (a gateway or an overloaded worker);
 * - `drop-request`: the connection is closed before the request reaches the server;
 * - `drop-answer`: the request IS forwarded and carried out, then the connection is closed without the answer — the
 *   client cannot know the change happened;
 * - `delay`: forwarded, and the answer held back this long before it is delivered (a stalled server);
 * - `stall`: accepted and never answered (a hung server or a black-holing middlebox);
 * - `rate-limit`: answered 429 M_LIMIT_EXCEEDED with that Retry-After, never forwarded;
 * - `rewrite`: forwarded, and the JSON answer replaced by what `body` makes of it (a hostile server's answer).
 * `decide` also sees each request's headers (a test can learn the access tokens a client used).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
    | { kind: "error"; status: number }
    | { kind: "drop-request" }
    | { kind: "drop-answer" }
    | { kind: "delay"; ms: number }
    | { kind: "stall" }
    | { kind: "rate-limit"; retryAfterMs: number }
    | { kind: "rewrite"; body: (answer: unknown) => unknown };

export interface FaultProxy {
    baseUrl: string;
    /** Every request that met a fault, in order. */
    injected: Array<{ method: string; path: string; fault: Fault }>;
    /** Requests forwarded or faulted, in all. */
    requests(): number;
    close(): Promise<void>;
}

export async function startFaultProxy(
    target: string,
    decide: (method: string, path: string, headers: IncomingMessage["headers"]) => Fault | undefined,
): Promise<FaultProxy> {
    const upstream = new URL(target);
    const injected: FaultProxy["injected"] = [];
    const held = new Set<ServerResponse>();
    const timers = new Set<ReturnType<typeof setTimeout>>();
    let total = 0;
    const later = (ms: number, f: () => void) => {
        const timer = setTimeout(() => {
            timers.delete(timer);
            f();
        }, ms);
        timers.add(timer);
    };
    const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
        total++;
        const method = req.method ?? "GET";
        const path = req.url ?? "/";
        const fault = decide(method, decodeURIComponent(path), req.headers);
        if (fault) injected.push({ method, path, fault });
        if (fault?.kind === "stall") {
            held.add(res);
            req.resume();
            return;
        }
        if (fault?.kind === "drop-request") {
            req.resume();
            req.socket.destroy();
            return;
        }
        if (fault?.kind === "error" || fault?.kind === "rate-limit") {
            req.resume();
            const limited = fault.kind === "rate-limit";
            const body = limited
                ? { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: fault.retryAfterMs }
                : { errcode: "M_UNKNOWN", error: `Injected ${fault.status}` };
            res.writeHead(limited ? 429 : fault.status, {
                "Content-Type": "application/json",
                ...(limited ? { "Retry-After": String(Math.ceil(fault.retryAfterMs / 1000)) } : {}),
            });
            res.end(JSON.stringify(body));
            return;
        }
        const forward = request(
            {
                host: upstream.hostname,
                port: upstream.port,
                method,
                path,
                headers: { ...req.headers, host: upstream.host },
            },
            (answer) => {
                if (fault?.kind === "drop-answer") {
                    // The server did the work; the client never hears of it.
                    answer.resume();
                    answer.on("end", () => req.socket.destroy());
                    return;
                }
                if (fault?.kind === "rewrite") {
                    const chunks: Buffer[] = [];
                    answer.on("data", (c: Buffer) => chunks.push(c));
                    answer.on("end", () => {
                        const text = JSON.stringify(fault.body(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
                        const {
                            "content-length": _length,
                            "transfer-encoding": _encoding,
                            ...headers
                        } = answer.headers;
                        res.writeHead(answer.statusCode ?? 502, {
                            ...headers,
                            "content-length": Buffer.byteLength(text),
                        });
                        res.end(text);
                    });
                    return;
                }
                const deliver = () => {
                    res.writeHead(answer.statusCode ?? 502, answer.headers);
                    answer.pipe(res);
                };
                if (fault?.kind === "delay") later(fault.ms, deliver);
                else deliver();
            },
        );
        forward.on("error", () => res.destroy());
        req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        baseUrl: `http://127.0.0.1:${port}`,
        injected,
        requests: () => total,
        async close() {
            for (const timer of timers) clearTimeout(timer);
            for (const res of held) res.destroy();
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
