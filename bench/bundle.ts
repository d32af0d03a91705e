/**
 * What the module costs a browser (not a test: it prints figures): the entry Element loads at start-up, and what
 * loads when the "Migrate account" page opens.
 *
 *   PATH=$PWD/node_modules/.bin:$PATH tsx bench/bundle.ts [--port-base P]      (after `npm run build`)
 *
 * Measured in the real host page in headless Chromium, not from the bundler's chunk graph, so it stays right however
 * the build splits the code: a user signs in on server A, opens the page from the space-panel entry, and every file
 * fetched from the module's folder until the page shows (its heading "Migrate your account") and 1.5 s pass with no
 * further module request is counted. Each file is gzipped from dist/module at zlib's default level (6, what most
 * servers send). `entry` is `index.js` alone; `page` is everything fetched by then, the entry included.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

import { MODULE_URL_PATH, startHostServer } from "../host/server.ts";
import { closeBrowsers, openBrowserPage } from "../tests/browser/chromium.ts";
import { type Bed, registerUser, startHomeservers } from "../tests/bed/homeservers.ts";
import { PROJECT_ROOT } from "../tests/bed/paths.ts";

const MODULE_DIR = path.join(PROJECT_ROOT, "dist", "module");

export interface BundleFigures {
    entryKbGzip: number;
    pageKbGzip: number;
    /** Module files fetched by the time the page is open, with their gzipped size in KB. */
    pageFiles: Array<{ file: string; kbGzip: number }>;
    /** Everything in dist/module (loaded only when a migration starts, or never), for scale. */
    allKbGzip: number;
}

const kbGzip = (file: string) => gzipSync(readFileSync(path.join(MODULE_DIR, file))).length / 1024;

export async function benchBundle(options: { portBase: number }): Promise<BundleFigures> {
    let bed: Bed | undefined;
    let host: Awaited<ReturnType<typeof startHostServer>> | undefined;
    try {
        bed = await startHomeservers({
            portBase: options.portBase,
            limits: { kind: "functional" },
            log: (l) => console.error(l),
        });
        host = await startHostServer({
            config: {
                default_server_config: { "m.homeserver": { base_url: bed.a.baseUrl, server_name: bed.a.serverName } },
            },
        });
        const user = await registerUser(bed.a, "page-size");
        const { page } = await openBrowserPage();
        const fetched: string[] = [];
        let lastFetchAt = Date.now();
        page.on("request", (r) => {
            const { pathname } = new URL(r.url());
            if (!pathname.startsWith(MODULE_URL_PATH)) return;
            fetched.push(decodeURIComponent(pathname.slice(MODULE_URL_PATH.length)));
            lastFetchAt = Date.now();
        });
        await page.goto(host.url);
        await page.fill("input[name=username]", user.userId);
        await page.fill("input[name=password]", user.password);
        await page.click("button[type=submit]");
        await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
        const entryOnly = [...fetched];
        await page.locator('.mx_SpaceItem [role=button][aria-label="Migrate account"]').click();
        await page.getByRole("heading", { level: 1, name: "Migrate your account" }).waitFor({ timeout: 30_000 });
        while (Date.now() - lastFetchAt < 1500) await new Promise((r) => setTimeout(r, 100));

        const unique = [...new Set(fetched)];
        const pageFiles = unique.map((file) => ({ file, kbGzip: kbGzip(file) }));
        const all = (readdirSync(MODULE_DIR, { recursive: true }) as string[]).filter(
            (f) => statSync(path.join(MODULE_DIR, f)).isFile() && !f.endsWith(".map") && !f.endsWith(".LICENSE.txt"),
        );
        const figures: BundleFigures = {
            entryKbGzip: kbGzip("index.js"),
            pageKbGzip: pageFiles.reduce((a, f) => a + f.kbGzip, 0),
            pageFiles,
            allKbGzip: all.reduce((a, f) => a + kbGzip(f), 0),
        };
        console.log(`Module files fetched at Element's start-up: ${entryOnly.join(", ") || "none"}`);
        console.log(`Entry (index.js): ${figures.entryKbGzip.toFixed(1)} KB gzipped`);
        console.log(
            `When the page opens: ${pageFiles.map((f) => `${f.file} ${f.kbGzip.toFixed(1)} KB`).join(", ")} → ${figures.pageKbGzip.toFixed(1)} KB gzipped in all`,
        );
        console.log(
            `All of dist/module without source maps (${all.length} files; the rest loads when a migration starts): ${figures.allKbGzip.toFixed(0)} KB gzipped`,
        );
        return figures;
    } finally {
        await closeBrowsers();
        await host?.close();
        await bed?.stop();
    }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const i = process.argv.indexOf("--port-base");
    benchBundle({ portBase: Number(i > 0 ? process.argv[i + 1] : (process.env.MIGRATE_BED_PORT_BASE ?? 9780)) }).then(
        () => process.exit(0),
        (e) => {
            console.error(e instanceof Error ? (e.stack ?? e.message) : e);
            process.exit(1);
        },
    );
}
