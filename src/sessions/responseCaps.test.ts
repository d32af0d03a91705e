/**
 * Size caps on what servers send back (issue 15.8). The server here is a stand-in for a hostile homeserver: a small
 * node:http server on loopback that answers a successful request with far more than any Matrix answer needs — or
 * with a body that never ends. The request fails with a clear error, and the rest of the body is never downloaded.
 */
import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { AVATAR_MAX_BYTES, copyProfile } from "../engine/accountSteps.ts";
import type { AccountSession, MigrationContext } from "../engine/context.ts";
import { type BucketName, Scheduler } from "../engine/scheduler.ts";
import {
    MatrixHttp,
    type Method,
    RESPONSE_BODY_LIMIT,
    type RequestOptions,
    ResponseTooLargeError,
} from "./matrixHttp.ts";

const MIB = 1024 * 1024;

interface HostileServer {
    baseUrl: string;
    /** Bytes of the flooding bodies written so far (the socket's buffers hold a few MiB more than was read). */
    sent(): number;
    /** Requests seen, as "METHOD /path". */
    requests: string[];
    close(): Promise<void>;
}

/** Writes `{"filler":"xxxx…` until `total` bytes (or forever), as fast as the client reads. */
function flood(res: ServerResponse, total: number | undefined, count: (n: number) => void, headers = {}): void {
    res.writeHead(200, { "Content-Type": "application/json", ...headers });
    const chunk = Buffer.alloc(256 * 1024, "x");
    let written = 0;
    const more = () => {
        while (total === undefined || written < total) {
            if (res.destroyed) return;
            written += chunk.length;
            count(chunk.length);
            if (!res.write(written === chunk.length ? Buffer.concat([Buffer.from('{"filler":"'), chunk]) : chunk))
                return void res.once("drain", more);
        }
        res.end('"}');
    };
    more();
}

async function hostileHomeserver(
    route: (path: string, res: ServerResponse, count: (n: number) => void) => boolean,
): Promise<HostileServer> {
    let sent = 0;
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        requests.push(`${req.method} ${path}`);
        res.on("error", () => undefined);
        req.resume();
        if (!route(path, res, (n) => (sent += n))) {
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end("{}");
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        sent: () => sent,
        requests,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

let server: HostileServer | undefined;
afterEach(async () => {
    await server?.close();
    server = undefined;
});

test("a JSON answer over 32 MiB fails with a clear error, and the server's endless body is not downloaded", async () => {
    server = await hostileHomeserver((path, res, count) => {
        if (path !== "/_matrix/client/v3/joined_rooms") return false;
        flood(res, undefined, count);
        return true;
    });
    const http = new MatrixHttp(server.baseUrl, "token");
    const error = await http.request("GET", "/joined_rooms").then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect((error as ResponseTooLargeError).message).toBe(
        "GET /joined_rooms: the server's answer is larger than 32 MiB, far more than this request needs; it was not read",
    );
    expect((error as ResponseTooLargeError).httpStatus).toBe(200);
    expect(RESPONSE_BODY_LIMIT).toBe(32 * MIB);
    // Reading stopped at the cap; what the server got rid of beyond it sits in socket buffers, not in our memory.
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sent()).toBeLessThan(RESPONSE_BODY_LIMIT + 16 * MIB);
});

test("a declared Content-Length over the cap is refused before the body is read; an answer under it is read", async () => {
    server = await hostileHomeserver((path, res, count) => {
        if (path === "/_matrix/client/v3/big") {
            flood(res, 64 * MIB, count, { "Content-Length": String(64 * MIB + 13) });
            return true;
        }
        if (path === "/_matrix/client/v3/medium") {
            flood(res, 2 * MIB, count);
            return true;
        }
        return false;
    });
    const http = new MatrixHttp(server.baseUrl, "token");
    await expect(http.request("GET", "/big")).rejects.toThrow(/larger than 32 MiB/);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sent()).toBeLessThan(16 * MIB);
    const medium = await http.request<{ filler: string }>("GET", "/medium");
    expect(medium.filler).toHaveLength(2 * MIB);
    // A request may ask for a smaller (or larger) cap of its own.
    await expect(http.request("GET", "/medium", { maxBytes: MIB })).rejects.toThrow(/larger than 1 MiB/);
});

test("an avatar over 10 MiB is not downloaded or uploaded: the profile step says why", async () => {
    server = await hostileHomeserver((path, res, count) => {
        if (!path.startsWith("/_matrix/client/v1/media/download/")) return false;
        flood(res, undefined, count, { "Content-Type": "image/png" });
        return true;
    });
    const old = { userId: "@alice:old.example", http: new MatrixHttp(server.baseUrl, "old-token") };
    const neu = { userId: "@alice:new.example", http: new MatrixHttp(server.baseUrl, "new-token") };
    const scheduler = new Scheduler({ maxRetries: 0 });
    const send = (bucket: BucketName, side: AccountSession, method: Method, path: string, opts?: RequestOptions) =>
        scheduler.run(bucket, () => side.http.request(method, path, opts));
    // Only what the profile step uses; the requests themselves go to the stand-in.
    const ctx = {
        sides: { old, new: neu },
        scheduler,
        dryRun: false,
        journal: { journal: { account: {} }, update: () => undefined },
        read: (bucket: BucketName, side: AccountSession, path: string, opts?: RequestOptions) =>
            send(bucket, side, "GET", path, opts),
        write: send,
        progress: () => undefined,
    } as unknown as MigrationContext;
    await expect(copyProfile(ctx, { avatar_url: "mxc://old.example/huge" })).rejects.toThrow(
        "The old account's avatar is larger than 10 MiB; it was not copied (set a smaller one on the new account)",
    );
    expect(AVATAR_MAX_BYTES).toBe(10 * MIB);
    expect(server.requests).toContain("GET /_matrix/client/v1/media/download/old.example/huge");
    expect(server.requests.filter((r) => r.startsWith("POST") || r.includes("avatar_url"))).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.sent()).toBeLessThan(AVATAR_MAX_BYTES + 16 * MIB);
});
