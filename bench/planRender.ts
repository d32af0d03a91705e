/**
 * Benchmark of the page at the scale of real accounts (not a test: it prints figures).
 *
 *   npx tsx bench/planRender.ts [--rooms 1000] [--runs 3]
 *
 * - The sizes Element downloads: the entry file (at start-up) and the chunks the page loads when it opens (Compound
 *   and the screens), gzipped, from `npm run build`'s dist/module (the page's chunks are found by loading the built
 *   module in the host page and opening the page, as Element would).
 * - The plan review for a synthetic account of N rooms in headless Chromium (Debian's): time to the first painted
 *   frame, time to answer a click on one room, and frame times while scrolling through the whole list.
 * The machines are shared: run it a few times and read the figures as rough.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { build } from "esbuild";
import { chromium } from "playwright-core";

import { startHostServer } from "../host/server.ts";
import { CHROMIUM_PATH } from "../scripts/setup.ts";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const rooms = arg("rooms", 1000);
const runs = arg("runs", 3);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;

const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
});
try {
    // 1. What Element downloads: the entry at start-up, the page's chunks when the page opens.
    const entry = path.join(root, "dist/module/index.js");
    console.log(`entry (index.js): ${kb(gz(entry))} gzip, ${kb(readFileSync(entry).length)} raw`);

    const pageChunks = await measurePageChunks();
    console.log(
        `page chunks, loaded when the page opens: ${pageChunks.map((c) => `${c.name} ${kb(c.gzip)}`).join(", ")} — ${kb(pageChunks.reduce((n, c) => n + c.gzip, 0))} gzip in all`,
    );

    // 2. The plan review with N rooms.
    const bundle = await build({
        entryPoints: [path.join(root, "bench/planRender.page.tsx")],
        bundle: true,
        format: "esm",
        write: false,
        minify: true,
        define: { "process.env.NODE_ENV": '"production"' },
        alias: { events: path.join(root, "node_modules/events/events.js") },
        logLevel: "error",
    });
    const js = bundle.outputFiles[0].text;
    const css = [
        "node_modules/@vector-im/compound-design-tokens/assets/web/css/compound-design-tokens.css",
        "node_modules/@vector-im/compound-web/dist/style.css",
        "src/ui/style.css",
    ];
    const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname === "/bench.js") return res.writeHead(200, { "Content-Type": "text/javascript" }).end(js);
        if (url.pathname.startsWith("/css/")) {
            const file = path.join(root, decodeURIComponent(url.pathname.slice(5)));
            return res.writeHead(200, { "Content-Type": "text/css" }).end(readFileSync(file));
        }
        const tokensDir = "/node_modules/@vector-im/compound-design-tokens/assets/web/css/";
        if (url.pathname.startsWith(tokensDir))
            return res.writeHead(200, { "Content-Type": "text/css" }).end(readFileSync(path.join(root, url.pathname)));
        res.writeHead(200, { "Content-Type": "text/html" }).end(
            `<!doctype html><html class="cpd-theme-light"><head>${css.map((c) => `<link rel="stylesheet" href="/${c.startsWith("node_modules/@vector-im/compound-design-tokens") ? c : `css/${c}`}">`).join("")}</head><body><div id="root"></div><script type="module" src="/bench.js"></script></body></html>`,
        );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const results: Array<Record<string, number>> = [];
    for (let run = 0; run < runs; run++) {
        const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        await p.goto(`http://127.0.0.1:${port}/?rooms=${rooms}`);
        await p.waitForFunction(() => "benchResult" in window, undefined, { timeout: 120_000 });
        results.push(
            await p.evaluate(() => (window as unknown as { benchResult: Record<string, number> }).benchResult),
        );
        await p.close();
    }
    server.close();
    const median = (key: string) => results.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
    console.log(`plan review with ${rooms} rooms (median of ${runs} runs, Chromium headless):`);
    console.log(
        `  first paint after render: ${median("renderMs").toFixed(0)} ms   (runs: ${results.map((r) => r.renderMs.toFixed(0)).join(", ")})`,
    );
    console.log(`  answer to one room's checkbox: ${median("toggleMs").toFixed(0)} ms`);
    console.log(
        `  scrolling the whole list: ${median("scrollFrames")} frames, median ${median("scrollMedianMs").toFixed(1)} ms, p95 ${median("scrollP95Ms").toFixed(1)} ms, worst ${median("scrollMaxMs").toFixed(1)} ms per frame`,
    );
    console.log(`  DOM elements: ${median("domNodes")}   (budget: render < 1000 ms; 16.7 ms per frame is 60 fps)`);
} finally {
    await browser.close();
}

/** Opens the module's page in the host (as Element would, through the ModuleLoader) and lists the chunks it fetched. */
async function measurePageChunks(): Promise<Array<{ name: string; gzip: number }>> {
    const host = await startHostServer({ config: {} });
    const p = await browser.newPage();
    const fetched = new Set<string>();
    p.on("request", (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith("/modules/account-migration/chunks/"))
            fetched.add(u.pathname.slice("/modules/account-migration/".length));
    });
    // Without a session the host shows its sign-in form; the module's page still renders at its route once a session
    // exists. Load the page chunk the way the location renderer does: through the module's own lazy import.
    await p.goto(host.url);
    // A string, not a function: tsx would add helpers the page does not have.
    await p.evaluate(`(async () => {
        const mod = await import(location.origin + "/modules/account-migration/index.js");
        const renderers = new Map();
        const api = {
            config: { get: () => undefined },
            i18n: { language: "en", register: () => undefined, translate: (k) => k },
            navigation: { registerLocationRenderer: (path, render) => renderers.set(path, render) },
            extras: {},
            customComponents: {},
        };
        await new mod.default(api).load();
        // The page is a React.lazy element: initialising it starts the chunk's import, as rendering would.
        const lazy = renderers.get("migrate-account")().props.children.type;
        for (let i = 0; i < 100; i++) {
            try {
                lazy._init(lazy._payload);
                return;
            } catch (pending) {
                if (pending && typeof pending.then === "function") await pending;
                else throw pending;
            }
        }
    })()`);
    await p.close();
    await host.close();
    return [...fetched]
        .sort()
        .map((name) => ({ name: name.replace(/^chunks\//, ""), gzip: gz(path.join(root, "dist/module", name)) }));
}
