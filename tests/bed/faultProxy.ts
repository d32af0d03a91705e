/**
 * A proxy on loopback in front of a real homeserver's client API that forwards every request, except that requests
 * matching `stall` are accepted and never answered — what a hung server or a black-holing middlebox looks like.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";

export interface StallingProxy {
    baseUrl: string;
    /** Requests that were stalled (method and path). */
    stalled: string[];
    close(): Promise<void>;
}

export async function startStallingProxy(target: string, stall: (method: string, path: string) => boolean): Promise<StallingProxy> {
    const upstream = new URL(target);
    const stalled: string[] = [];
    const held = new Set<ServerResponse>();
    const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const path = req.url ?? "/";
        if (stall(req.method ?? "GET", decodeURIComponent(path))) {
            stalled.push(`${req.method} ${path}`);
            held.add(res);
            req.resume();
            return;
        }
        const forward = request(
            { host: upstream.hostname, port: upstream.port, method: req.method, path, headers: { ...req.headers, host: upstream.host } },
            (answer) => {
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(res);
            },
        );
        forward.on("error", () => res.destroy());
        req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        baseUrl: `http://127.0.0.1:${port}`,
        stalled,
        async close() {
            for (const res of held) res.destroy();
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
