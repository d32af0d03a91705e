/**
 * Serves the host page the way an admin would deploy Element plus this module: the app at `/`, the module's built
 * folder at `/modules/account-migration/`, and a `config.json` whose `modules` list points at the module's entry.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";

import { PROJECT_ROOT } from "../tests/bed/paths.ts";

export const MODULE_URL_PATH = "/modules/account-migration/";

const TYPES: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
};

export interface HostServerOptions {
    /** 0 picks a free port. */
    port?: number;
    /** Element's config.json; `modules` is filled in with the module's URL unless given. */
    config: Record<string, unknown>;
}

export interface HostServer {
    url: string;
    close(): Promise<void>;
}

export async function startHostServer(options: HostServerOptions): Promise<HostServer> {
    const hostDir = path.join(PROJECT_ROOT, "dist", "host");
    const moduleDir = path.join(PROJECT_ROOT, "dist", "module");
    for (const dir of [hostDir, moduleDir]) {
        if (!existsSync(dir)) throw new Error(`${dir} is missing: run \`npm run build\` first`);
    }
    const config = { modules: [`${MODULE_URL_PATH}index.js`], ...options.config };

    const server: Server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://host");
        if (url.pathname === "/config.json") {
            res.writeHead(200, { "Content-Type": TYPES[".json"], "Cache-Control": "no-store" });
            res.end(JSON.stringify(config));
            return;
        }
        const [base, rel] = url.pathname.startsWith(MODULE_URL_PATH)
            ? [moduleDir, url.pathname.slice(MODULE_URL_PATH.length)]
            : [hostDir, url.pathname === "/" ? "index.html" : url.pathname.slice(1)];
        const file = path.resolve(base, decodeURIComponent(rel));
        if (!file.startsWith(base + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
            res.writeHead(404, { "Content-Type": TYPES[".txt"] });
            res.end("Not found");
            return;
        }
        res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
        createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : options.port;
    return {
        // "localhost" is a secure context in Chromium (WebCrypto), like Element's https origin.
        url: `http://localhost:${port}/`,
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
