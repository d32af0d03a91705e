/**
 * Finding the new account's homeserver and what sign-in it offers, from its user id: `.well-known/matrix/client` →
 * `/_matrix/client/versions` → `/_matrix/client/v1/auth_metadata` (OAuth 2.0, Matrix 1.15) and `GET /login`.
 *
 * Every request here has a timeout and a cap on the body it reads: a server that stalls or floods gets a clear
 * "not answering" / "answered too much" instead of hanging the page. matrix-js-sdk's AutoDiscovery does not
 * enforce either (nor https), which is why this is hand-written.
 */
import { parseUserId } from "../engine/userId.ts";
import { checkServerUrl, checkedRedirects, isLoopbackHost } from "./serverUrl.ts";
import { SignInError } from "./signInError.ts";

export { isLoopbackHost } from "./serverUrl.ts";

/** Discovery answers are small JSON documents; anything bigger is not what we asked for. */
export const DISCOVERY_MAX_BYTES = 64 * 1024;
export const DISCOVERY_TIMEOUT_MS = 15_000;

export interface DiscoveryOptions {
    fetchFn?: typeof fetch;
    timeoutMs?: number;
    maxBytes?: number;
}

const defaultFetch: typeof fetch = (...args) => globalThis.fetch(...args);

export interface LimitedResponse {
    status: number;
    ok: boolean;
    /** Parsed JSON, or undefined when the body was not JSON. */
    json: Record<string, unknown> | undefined;
}

/**
 * GET a small JSON document with a timeout and a size cap. Network failures and timeouts become SignInErrors
 * ("unreachable" / "not-answering"); HTTP errors are returned for the caller to judge.
 */
export async function getJsonLimited(url: string, opts: DiscoveryOptions = {}): Promise<LimitedResponse> {
    const timeoutMs = opts.timeoutMs ?? DISCOVERY_TIMEOUT_MS;
    const maxBytes = opts.maxBytes ?? DISCOVERY_MAX_BYTES;
    const host = new URL(url).origin;
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    let response: Response;
    try {
        // A redirect is followed only to an https address (or http on loopback), never from https to http.
        response = await checkedRedirects(opts.fetchFn ?? defaultFetch)(url, {
            signal,
            headers: { Accept: "application/json" },
        });
        text = await readLimited(response, maxBytes);
    } catch (e) {
        if (signal.aborted) {
            throw new SignInError(
                "not-answering",
                `${host} is not answering (no complete reply within ${Math.round(timeoutMs / 1000)} s). Try again later, or check the address.`,
            );
        }
        if (e instanceof SignInError) throw e;
        throw new SignInError(
            "unreachable",
            `Could not reach ${host}: ${(e as Error).message}. Check the address and your connection.`,
        );
    }
    let json: Record<string, unknown> | undefined;
    try {
        const parsed: unknown = text ? JSON.parse(text) : undefined;
        json =
            parsed && typeof parsed === "object" && !Array.isArray(parsed)
                ? (parsed as Record<string, unknown>)
                : undefined;
    } catch {
        json = undefined;
    }
    return { status: response.status, ok: response.ok, json };
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
    const declared = Number(response.headers.get("Content-Length"));
    const tooBig = () =>
        new SignInError(
            "not-a-homeserver",
            `${new URL(response.url || "http://server").origin} answered with far more data than expected (over ${Math.round(maxBytes / 1024)} KiB); it is not behaving like a homeserver.`,
        );
    if (Number.isFinite(declared) && declared > maxBytes) {
        await response.body?.cancel().catch(() => undefined);
        throw tooBig();
    }
    if (!response.body) return "";
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
            await reader.cancel().catch(() => undefined);
            throw tooBig();
        }
        chunks.push(value);
    }
    const all = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
        all.set(c, offset);
        offset += c.byteLength;
    }
    return new TextDecoder().decode(all);
}

/** Normalises a homeserver address and refuses plain http away from loopback. */
export function homeserverAddress(input: string, via?: string): string {
    let url: URL;
    try {
        url = new URL(input.trim());
        if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
    } catch {
        throw new SignInError(
            "unreachable",
            `“${input}” is not a homeserver address (expected something like https://matrix.example.org).`,
        );
    }
    if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
        throw new SignInError(
            "insecure-homeserver",
            `${via ? `${via} points to` : "The address"} ${url.origin}, which is not encrypted (http, not https). ` +
                "Signing in there would send your credentials in the clear, so this tool refuses.",
        );
    }
    return url.href.replace(/[?#].*$/, "").replace(/\/+$/, "");
}

/** Checks that an address answers as a Matrix homeserver (GET /_matrix/client/versions); returns it normalised. */
export async function checkHomeserver(baseUrl: string, opts: DiscoveryOptions = {}, via?: string): Promise<string> {
    const base = homeserverAddress(baseUrl, via);
    const response = await getJsonLimited(`${base}/_matrix/client/versions`, opts);
    if (!response.ok || !Array.isArray(response.json?.versions)) {
        throw new SignInError(
            "not-a-homeserver",
            `${base} answered, but it is not a Matrix homeserver (no /_matrix/client/versions).`,
        );
    }
    return base;
}

/** The homeserver for a server name, from its `.well-known/matrix/client` (spec: "Server discovery"). */
export async function discoverHomeserver(serverName: string, opts: DiscoveryOptions = {}): Promise<string> {
    const wellKnown = `https://${serverName}/.well-known/matrix/client`;
    let response: LimitedResponse;
    try {
        response = await getJsonLimited(wellKnown, opts);
    } catch (e) {
        if (e instanceof SignInError && e.code === "not-answering") throw e;
        throw new SignInError(
            "no-well-known",
            `Could not look up the homeserver of ${serverName} (${wellKnown}: ${(e as Error).message}). Give its address explicitly.`,
        );
    }
    if (response.status === 404) {
        throw new SignInError(
            "no-well-known",
            `${serverName} does not publish where its homeserver is (${wellKnown} is missing). Give its address explicitly.`,
        );
    }
    const homeserver = response.json?.["m.homeserver"] as { base_url?: unknown } | undefined;
    if (!response.ok || typeof homeserver?.base_url !== "string") {
        throw new SignInError(
            "no-well-known",
            `${wellKnown} does not say where the homeserver is. Give its address explicitly.`,
        );
    }
    return checkHomeserver(homeserver.base_url, opts, `${serverName}'s .well-known`);
}

export interface TargetPolicy {
    /** Server names the new account may be on; empty: any. */
    allowedServers: string[];
    /** Homeserver addresses an admin allows for a server name, beside what its .well-known says. */
    allowedHomeservers?: Record<string, string>;
}

/**
 * The new account's homeserver address. With an allow-list, a typed address counts only when it is the one the
 * allowed server name's `.well-known` points to, or the one the admin listed: a user id on an allowed server must
 * not be signed in at some other server that merely claims to host it.
 */
export async function resolveNewHomeserver(
    userId: string,
    typedUrl: string | undefined,
    policy: TargetPolicy,
    opts: DiscoveryOptions = {},
): Promise<string> {
    const parsed = parseUserId(userId);
    if (!parsed.ok) throw new SignInError("bad-user-id", parsed.error);
    const serverName = parsed.serverName;
    if (!policy.allowedServers.length) {
        return typedUrl ? checkHomeserver(typedUrl, opts) : discoverHomeserver(serverName, opts);
    }
    const listed = policy.allowedHomeservers?.[serverName];
    const expected = listed ? await checkHomeserver(listed, opts) : await discoverHomeserver(serverName, opts);
    if (typedUrl && homeserverAddress(typedUrl) !== expected) {
        throw new SignInError(
            "server-not-allowed",
            `${homeserverAddress(typedUrl)} is not the homeserver of ${serverName} (that is ${expected}). Migrations here may only go to ${policy.allowedServers.join(", ")}.`,
        );
    }
    return expected;
}

// ---------------------------------------------------------------------------------------------------------------
// What the server offers

export interface IdentityProvider {
    id: string;
    name: string;
    /** An mxc:// URL; shown only where the host can fetch it. */
    icon?: string;
    brand?: string;
}

export type SignInMethod =
    | { kind: "oauth"; deviceGrant: boolean }
    | { kind: "sso"; providers: IdentityProvider[] }
    | { kind: "password" }
    | { kind: "token" };

export type SignInMethodKind = SignInMethod["kind"];

/** What the sign-in step shows: the methods in order of preference (the first is the recommended one). */
export interface SignInOffer {
    userId: string;
    baseUrl: string;
    methods: SignInMethod[];
}

/** The server's OAuth 2.0 metadata as Matrix 1.15 serves it (validated with matrix-js-sdk where used). */
export type AuthMetadata = Record<string, unknown> & {
    issuer: string;
    account_management_uri?: string;
    device_authorization_endpoint?: string;
};

export interface SignInDiscovery {
    offer: SignInOffer;
    /** Present when the server delegates sign-in to an OAuth 2.0 server. */
    authMetadata?: AuthMetadata;
}

function identityProviders(flow: Record<string, unknown>): IdentityProvider[] {
    const list = Array.isArray(flow.identity_providers) ? flow.identity_providers : [];
    return list
        .filter(
            (p): p is Record<string, unknown> =>
                typeof p === "object" && p !== null && typeof (p as { id?: unknown }).id === "string",
        )
        .map((p) => ({
            id: p.id as string,
            name: typeof p.name === "string" && p.name ? p.name : (p.id as string),
            icon: typeof p.icon === "string" ? p.icon : undefined,
            brand: typeof p.brand === "string" ? p.brand : undefined,
        }));
}

/** The addresses of the OAuth 2.0 metadata this tool fetches, opens or shows, with what each is for. */
const METADATA_URLS: Record<string, string> = {
    issuer: "its OAuth 2.0 issuer",
    authorization_endpoint: "its sign-in page (OAuth 2.0 authorization endpoint)",
    token_endpoint: "its OAuth 2.0 token endpoint",
    registration_endpoint: "its OAuth 2.0 client registration",
    revocation_endpoint: "its OAuth 2.0 sign-out (revocation endpoint)",
    device_authorization_endpoint: "its sign-in with a code (device authorization endpoint)",
    account_management_uri: "its account page",
};

/**
 * The server's OAuth 2.0 metadata, refused whole when any address in it is not https (or loopback http): a server
 * that names a `javascript:` sign-in page is not signed in at, by any method.
 */
function checkedAuthMetadata(metadata: AuthMetadata): AuthMetadata {
    for (const [field, what] of Object.entries(METADATA_URLS)) {
        if (metadata[field] !== undefined) checkServerUrl(metadata[field], what);
    }
    return metadata;
}

/**
 * Asks the server how its accounts sign in. Order: OAuth 2.0 when offered (the spec's recommendation), then single
 * sign-on (one entry per identity provider), then password; an access token is always possible, last.
 */
export async function discoverSignIn(
    userId: string,
    baseUrl: string,
    opts: DiscoveryOptions = {},
): Promise<SignInDiscovery> {
    const [metadataResponse, loginResponse] = await Promise.all([
        getJsonLimited(`${baseUrl}/_matrix/client/v1/auth_metadata`, opts),
        getJsonLimited(`${baseUrl}/_matrix/client/v3/login`, opts),
    ]);
    const methods: SignInMethod[] = [];
    let authMetadata: AuthMetadata | undefined;
    const m = metadataResponse.json;
    if (
        metadataResponse.ok &&
        m &&
        typeof m.issuer === "string" &&
        typeof m.authorization_endpoint === "string" &&
        typeof m.token_endpoint === "string"
    ) {
        authMetadata = checkedAuthMetadata(m as AuthMetadata);
        const grants = Array.isArray(m.grant_types_supported) ? m.grant_types_supported : [];
        methods.push({
            kind: "oauth",
            deviceGrant:
                typeof m.device_authorization_endpoint === "string" &&
                grants.includes("urn:ietf:params:oauth:grant-type:device_code"),
        });
    }
    const flows = (
        loginResponse.ok && Array.isArray(loginResponse.json?.flows) ? loginResponse.json.flows : []
    ) as Array<Record<string, unknown>>;
    const sso = flows.find((f) => f.type === "m.login.sso");
    // A server behind an OAuth 2.0 server may still list SSO and password (a compatibility layer): offered after it.
    if (sso && flows.some((f) => f.type === "m.login.token"))
        methods.push({ kind: "sso", providers: identityProviders(sso) });
    if (flows.some((f) => f.type === "m.login.password")) methods.push({ kind: "password" });
    methods.push({ kind: "token" });
    return { offer: { userId, baseUrl, methods }, authMetadata };
}

export function describeMethods(methods: SignInMethod[]): string {
    const names = methods
        .filter((m) => m.kind !== "token")
        .map((m) => (m.kind === "oauth" ? "OAuth 2.0 sign-in" : m.kind === "sso" ? "single sign-on" : "password"));
    return names.join(", ") || "no sign-in method this tool supports";
}
