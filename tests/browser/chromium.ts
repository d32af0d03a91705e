/**
 * Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core (tools that download their own
 * browser cannot work on these machines). Every browser launched here is closed by `closeBrowsers()`; Playwright
 * also kills it if the test process dies. Each browser records what its pages (popups included) send and log, for the
 * security scans: every request, the tokens it saw, the console (`network`), and what a page keeps (`pageLeftovers`).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { type BrowserContext, chromium, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const open: Array<{ context: BrowserContext; profile: string }> = [];

/** Everything the browser's pages sent and logged since it opened. */
export interface BrowserRecord {
    requests: Array<{ method: string; url: string }>;
    /** Access and refresh tokens, by the origin that issued them (a sign-in answer) or was sent them (a bearer). */
    tokens: Map<string, Set<string>>;
    /** Console messages and page errors of every page. */
    console: string[];
}

/**
 * The origins a migration through the page may reach, sorted: its host (Element's files and the module's), each
 * homeserver's client API — and, where the new account's server is found from its name, that name's `.well-known` —
 * and the identity provider or sign-in service the person was sent to.
 */
export function allowedOrigins(
    hostUrl: string,
    homeservers: Array<{ baseUrl: string; lookedUp?: string }>,
    sentTo: string[] = [],
): string[] {
    const origin = (url: string) => new URL(url).origin;
    return [
        origin(hostUrl),
        ...homeservers.flatMap((hs) => [origin(hs.baseUrl), ...(hs.lookedUp ? [`https://${hs.lookedUp}`] : [])]),
        ...sentTo.map(origin),
    ].sort();
}

/** The origins the browser's pages sent requests to (http and https only), sorted. */
export function contactedOrigins(network: BrowserRecord): string[] {
    return [
        ...new Set(network.requests.filter((r) => /^https?:/.test(r.url)).map((r) => new URL(r.url).origin)),
    ].sort();
}

/** Sign-in answers that carry tokens: Matrix `/login`, OAuth 2.0 token endpoints, `/refresh`. */
const TOKEN_ANSWER = /\/(login|token|refresh)$/;

function record(context: BrowserContext): BrowserRecord {
    const out: BrowserRecord = { requests: [], tokens: new Map(), console: [] };
    const keep = (origin: string, token: unknown) => {
        if (typeof token !== "string" || !token) return;
        if (!out.tokens.has(origin)) out.tokens.set(origin, new Set());
        out.tokens.get(origin)!.add(token);
    };
    context.on("request", (request) => {
        out.requests.push({ method: request.method(), url: request.url() });
        const bearer = /^Bearer (.+)$/.exec(request.headers()["authorization"] ?? "");
        if (bearer) keep(new URL(request.url()).origin, bearer[1]);
    });
    context.on("response", (response) => {
        const url = new URL(response.url());
        if (response.request().method() !== "POST" || !TOKEN_ANSWER.test(url.pathname)) return;
        response.json().then(
            (body: { access_token?: unknown; refresh_token?: unknown }) => {
                keep(url.origin, body.access_token);
                keep(url.origin, body.refresh_token);
            },
            () => undefined,
        );
    });
    context.on("console", (m) => out.console.push(`[${m.type()}] ${m.text()}`));
    context.on("weberror", (e) => out.console.push(`[pageerror] ${e.error().message}`));
    return out;
}

export async function openBrowserPage(): Promise<{
    page: Page;
    context: BrowserContext;
    logs: string[];
    network: BrowserRecord;
}> {
    if (!existsSync(CHROMIUM)) {
        throw new Error(
            `Chromium not found at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH.`,
        );
    }
    const profile = mkdtempSync(path.join(tmpdir(), "migration-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    });
    open.push({ context, profile });
    const network = record(context);
    const page = context.pages()[0] ?? (await context.newPage());
    const logs: string[] = [];
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    return { page, context, logs, network };
}

/**
 * What a page of this origin keeps and its browser logged, as text by place: each localStorage and sessionStorage
 * entry, every record of every IndexedDB database (binary values as base64 and as Latin-1 text, so a secret stored as
 * bytes is found too), and the console of every page (`network.console`).
 */
export async function pageLeftovers(page: Page, network: BrowserRecord): Promise<Record<string, string>> {
    const storage = await page.evaluate(async () => {
        const places: Record<string, string> = {};
        for (const [name, store] of [
            ["localStorage", localStorage],
            ["sessionStorage", sessionStorage],
        ] as const) {
            for (let i = 0; i < store.length; i++) {
                const key = store.key(i)!;
                places[`${name} ${key}`] = `${key}=${store.getItem(key)}`;
            }
        }
        const bytesText = (bytes: Uint8Array) => {
            let latin1 = "";
            for (const b of bytes) latin1 += String.fromCharCode(b);
            return `${btoa(latin1)} ${latin1}`;
        };
        const replacer = (_key: string, value: unknown) => {
            if (value instanceof ArrayBuffer) return bytesText(new Uint8Array(value));
            if (ArrayBuffer.isView(value))
                return bytesText(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
            if (value instanceof Map) return Object.fromEntries(value);
            if (value instanceof Set) return [...value];
            return value;
        };
        const request = <T>(r: IDBRequest<T>) =>
            new Promise<T>((resolve, reject) => {
                r.onsuccess = () => resolve(r.result);
                r.onerror = () => reject(r.error);
            });
        for (const { name } of await indexedDB.databases()) {
            if (!name) continue;
            const db = await request(indexedDB.open(name));
            for (const storeName of db.objectStoreNames) {
                const store = db.transaction(storeName, "readonly").objectStore(storeName);
                const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
                places[`IndexedDB ${name}/${storeName}`] = JSON.stringify({ keys, values }, replacer);
            }
            db.close();
        }
        return places;
    });
    return { ...storage, "the console": network.console.join("\n") };
}

export async function closeBrowsers(): Promise<void> {
    for (const { context, profile } of open.splice(0)) {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
    }
}
