/**
 * Addresses a server chooses — OAuth 2.0 endpoints, approval and sign-in pages, redirects — are checked here before
 * anything is fetched, opened or shown as a link: https, or plain http on this machine's loopback interface only.
 * Anything else (`javascript:`, `data:`, `file:`, a custom scheme, http across the network) is refused: a page that
 * opened a `javascript:` address in a popup of Element's origin would run the server's script there.
 *
 * Also the one `fetch` wrapper that follows redirects only to such addresses, never from https to http.
 */
import { SignInError } from "./signInError.ts";

/**
 * Loopback hosts may use plain http (tests, local servers): `localhost` itself, 127.0.0.0/8 and ::1. Not
 * `*.localhost`: such a name is resolved like any other (DNS, a hosts file) and may lead off this machine.
 */
export function isLoopbackHost(hostname: string): boolean {
    const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
    return host === "localhost" || /^127(?:\.\d{1,3}){3}$/.test(host) || host === "::1";
}

/** The address parsed, when it is https or loopback http (and carries no user name or password); else undefined. */
export function safeServerUrl(value: unknown): URL | undefined {
    if (typeof value !== "string") return undefined;
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return undefined;
    }
    if (url.username || url.password) return undefined;
    if (url.protocol === "https:") return url;
    if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return url;
    return undefined;
}

export const isSafeServerUrl = (value: unknown): value is string => safeServerUrl(value) !== undefined;

/** At most this much of a refused address goes into a message (it is the server's text). */
const SHOWN_CHARS = 80;

function shown(value: unknown): string {
    const text = typeof value === "string" ? value : String(value);
    // The scheme and a little more say what it is; control characters are not the server's to print.
    const clean = text.replace(/[\p{Cc}\p{Cf}]/gu, "?");
    return clean.length > SHOWN_CHARS ? `${clean.slice(0, SHOWN_CHARS)}…` : clean;
}

/**
 * Checks an address the server gave for `what` ("its sign-in page", "the OAuth 2.0 token endpoint"); returns it
 * unchanged, or throws a SignInError ("unsafe-url") that says what was refused. Nothing of it is used.
 */
export function checkServerUrl(value: unknown, what: string): string {
    if (isSafeServerUrl(value)) return value;
    throw new SignInError(
        "unsafe-url",
        `The server gave an address for ${what} that this tool will not open: “${shown(value)}”. ` +
            "Only https addresses (or http on this machine) are used. Nothing was opened or signed in.",
    );
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** A redirect the checked fetch refused to follow; nothing was sent to its target. */
export class RefusedRedirectError extends TypeError {
    public constructor(from: string, to: string) {
        super(
            `${new URL(from).origin} redirected to ${shown(to)}, which is not followed (only https, or http on this machine, and never from https to http)`,
        );
        this.name = "RefusedRedirectError";
    }
}

function mayFollow(from: URL, to: URL): boolean {
    return isSafeServerUrl(to.href) && !(from.protocol === "https:" && to.protocol !== "https:");
}

const inBrowser = typeof window !== "undefined" && typeof document !== "undefined";

/**
 * `fetch` that follows a redirect only to a checked address (https, or http on loopback) and never from https to
 * http — Node's fetch follows https → http on its own. In Node the redirects are followed here, hop by hop, before
 * anything goes to the next address (the Authorization header only to the same origin). A browser does not let a
 * page see a redirect's target before it follows it (and blocks https → http itself on an https page), so there the
 * answer of a redirect that ended somewhere unsafe is refused instead.
 */
export function checkedRedirects(fetchFn: typeof fetch): typeof fetch {
    return async (input, init) => {
        if (init?.redirect === "manual" || init?.redirect === "error" || input instanceof Request)
            return fetchFn(input, init);
        const start = new URL(String(input));
        if (inBrowser) {
            const response = await fetchFn(input, init);
            if (response.redirected && response.url && !mayFollow(start, new URL(response.url))) {
                await response.body?.cancel().catch(() => undefined);
                throw new RefusedRedirectError(start.href, response.url);
            }
            return response;
        }
        let url = start;
        let current: RequestInit = { ...init, redirect: "manual" };
        for (let hop = 0; ; hop++) {
            const response = await fetchFn(url.href, current);
            const location = response.headers.get("Location");
            if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
            await response.body?.cancel().catch(() => undefined);
            if (hop >= MAX_REDIRECTS) throw new TypeError(`${start.origin}: too many redirects`);
            let next: URL;
            try {
                next = new URL(location, url);
            } catch {
                throw new RefusedRedirectError(url.href, location);
            }
            if (!mayFollow(url, next)) throw new RefusedRedirectError(url.href, next.href);
            const method = (current.method ?? "GET").toUpperCase();
            // As fetch does: 303 (and 301/302 after a POST) become a GET without a body.
            const toGet = response.status === 303 ? method !== "HEAD" : method === "POST" && response.status < 303;
            const headers = new Headers(current.headers);
            if (next.origin !== url.origin) {
                headers.delete("Authorization");
                headers.delete("Cookie");
            }
            if (toGet) {
                headers.delete("Content-Type");
                headers.delete("Content-Length");
            }
            current = { ...current, headers, ...(toGet ? { method: "GET", body: undefined } : {}) };
            url = next;
        }
    };
}
