/**
 * Signing in through the server's OAuth 2.0 authorization server (Matrix 1.15, "next-generation auth", servers behind
 * Matrix Authentication Service): dynamic client registration, then authorization code + PKCE through a browser, or
 * the device authorization grant (RFC 8628). matrix-js-sdk's `OAuth2` builds the authorization URL (PKCE, scope,
 * device id) and validates the server's answers; its requests, though, have no timeout, no way to cancel and no size
 * cap, and its device-grant poll takes the server's `interval` and `expires_in` as they come (a server saying 3600
 * makes it sleep an hour; it has no cancel). So the requests themselves are made here: each with a timeout (30 s)
 * joined to the caller's signal, a capped body, redirects only to checked addresses; the poll clamps the interval
 * (1–30 s, `slow_down` within that) and the expiry (30 s–30 min) and stops at once on Cancel.
 */
import type { AuthMetadata } from "./discovery.ts";
import { BodyTooLargeError, readBodyCapped } from "./matrixHttp.ts";
import { checkServerUrl, checkedRedirects } from "./serverUrl.ts";
import { RefreshingTokens, type SignedInSession, type TokenSet, oauthSession } from "./session.ts";
import { SignInError } from "./signInError.ts";

/** How a front end shows a page of the server to the person and gets the redirect back. */
export interface BrowserSignIn {
    /** Where the server sends the browser back to (the module's callback page, or the CLI's loopback address). */
    redirectUri: string;
    /** "fragment" keeps a code out of server logs; a loopback HTTP server only sees "query". */
    responseMode: "query" | "fragment";
    /**
     * Shows `url` (checked: https, or http on loopback) to the person; resolves with the parameters the browser came
     * back with — an answer carrying this attempt's `state`, where the front end can tell answers apart.
     */
    open(url: string, state: string): Promise<URLSearchParams>;
}

export interface OAuthClientInfo {
    clientName: string;
    /** The client's home page; OAuth servers require the redirect to share its host. */
    clientUri: string;
    /** "web" for the page, "native" for the CLI (loopback redirects, RFC 8252). */
    applicationType: "web" | "native";
}

export interface DeviceGrantPrompt {
    userCode: string;
    verificationUri: string;
    verificationUriComplete?: string;
    /** Epoch ms. */
    expiresAt: number;
}

/** Each request to the authorization server gives up after this long. */
export const OAUTH_REQUEST_TIMEOUT_MS = 30_000;
/** Answers of an authorization server are small JSON documents. */
const OAUTH_BODY_LIMIT = 64 * 1024;
/** The device-grant poll's interval is kept within this (RFC 8628 default 5 s), and its expiry within these. */
export const DEVICE_POLL_INTERVAL_MS = { min: 1_000, max: 30_000, default: 5_000 };
export const DEVICE_CODE_LIFETIME_MS = { min: 30_000, max: 30 * 60_000 };

export interface OAuthRequestOptions {
    /** Abandons the sign-in (Cancel, the page going away). */
    signal?: AbortSignal;
    /** Per request (default OAUTH_REQUEST_TIMEOUT_MS); tests shorten it. */
    timeoutMs?: number;
    fetchFn?: typeof fetch;
    /** The device-grant poll's wait (tests record it instead of waiting). */
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

type Sdk = typeof import("matrix-js-sdk/lib/oauth/index.js");
type ValidatedAuthMetadata = import("matrix-js-sdk/lib/oauth/index.js").ValidatedAuthMetadata;
type BearerTokens = { access_token: string; refresh_token?: string; expires_in?: number };
// Loaded on demand: only OAuth sign-ins pay for it.
const loadSdk = (): Promise<Sdk> => import("matrix-js-sdk/lib/oauth/index.js");

const defaultFetch: typeof fetch = (...args) => globalThis.fetch(...args);

const clamp = (value: number, range: { min: number; max: number }) => Math.min(range.max, Math.max(range.min, value));

/** The caller's signal ended the sign-in: Cancel, or its own time limit (the CLI's wait for an approval). */
const cancelled = (signal?: AbortSignal) =>
    (signal?.reason as { name?: unknown } | undefined)?.name === "TimeoutError"
        ? new SignInError(
              "sign-in-timeout",
              "No approval arrived in time; nothing was signed in. Start again for a new code.",
          )
        : new SignInError("sign-in-cancelled", "Signing in was cancelled; nothing was signed in.");

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(cancelled(signal));
        const done = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", stop);
        };
        const stop = () => {
            done();
            reject(cancelled(signal));
        };
        const timer = setTimeout(() => {
            done();
            resolve();
        }, ms);
        signal?.addEventListener("abort", stop, { once: true });
    });
}

interface OAuthAnswer {
    status: number;
    json: Record<string, unknown> | undefined;
}

/**
 * One POST to the authorization server: form-encoded (or JSON for registration), a timeout joined to the caller's
 * signal, a capped body. Network failures, timeouts and cancellation become SignInErrors naming `what`.
 */
async function post(
    url: string,
    body: URLSearchParams | Record<string, unknown>,
    what: string,
    opts: OAuthRequestOptions,
): Promise<OAuthAnswer> {
    const timeoutMs = opts.timeoutMs ?? OAUTH_REQUEST_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const origin = new URL(url).origin;
    try {
        const json = body instanceof URLSearchParams;
        const response = await checkedRedirects(opts.fetchFn ?? defaultFetch)(url, {
            method: "POST",
            headers: {
                "Accept": "application/json",
                "Content-Type": json ? "application/x-www-form-urlencoded" : "application/json",
            },
            body: json ? body.toString() : JSON.stringify(body),
            signal,
        });
        const text = new TextDecoder().decode(await readBodyCapped(response, OAUTH_BODY_LIMIT));
        let parsed: unknown;
        try {
            parsed = text ? JSON.parse(text) : undefined;
        } catch {
            parsed = undefined;
        }
        return {
            status: response.status,
            json:
                parsed && typeof parsed === "object" && !Array.isArray(parsed)
                    ? (parsed as Record<string, unknown>)
                    : undefined,
        };
    } catch (e) {
        if (opts.signal?.aborted) throw cancelled(opts.signal);
        if (timeout.aborted)
            throw new SignInError(
                "not-answering",
                `${origin} is not answering (no reply to ${what} within ${timeoutMs / 1000} s). Try again later.`,
            );
        if (e instanceof SignInError) throw e;
        if (e instanceof BodyTooLargeError)
            throw new SignInError(
                "unsupported-sign-in",
                `${origin} answered ${what} with far more data than expected.`,
            );
        throw new SignInError("unreachable", `Could not reach ${origin} for ${what}: ${(e as Error).message}.`);
    }
}

function validated(sdk: Sdk, metadata: AuthMetadata): ValidatedAuthMetadata {
    if (!sdk.isValidAuthMetadata(metadata)) {
        throw new SignInError(
            "unsupported-sign-in",
            `The server's OAuth 2.0 sign-in (${metadata.issuer}) lacks what this tool needs (client registration, code grant with PKCE, refresh, revocation).`,
        );
    }
    return metadata;
}

/**
 * The redirect URI to register. A native client's loopback redirect is registered without its port (RFC 8252 §7.3):
 * the CLI listens on whatever port is free, and MAS matches any port only when the registered URI has none (one
 * registered with a port matches that port alone).
 */
export function registeredRedirectUri(client: OAuthClientInfo, redirectUri: string): string {
    if (client.applicationType !== "native") return redirectUri;
    const url = new URL(redirectUri);
    if (url.protocol !== "http:" || !["127.0.0.1", "[::1]"].includes(url.hostname)) return redirectUri;
    url.port = "";
    return url.href;
}

async function register(
    metadata: ValidatedAuthMetadata,
    client: OAuthClientInfo,
    redirectUri: string,
    device: boolean,
    opts: OAuthRequestOptions,
): Promise<string> {
    const answer = await post(
        metadata.registration_endpoint!,
        {
            client_name: client.clientName,
            client_uri: client.clientUri,
            application_type: client.applicationType,
            redirect_uris: [registeredRedirectUri(client, redirectUri)],
            grant_types: [
                "authorization_code",
                "refresh_token",
                ...(device ? ["urn:ietf:params:oauth:grant-type:device_code"] : []),
            ],
            response_types: ["code"],
            token_endpoint_auth_method: "none",
        },
        "the client registration",
        opts,
    );
    const clientId = answer.json?.client_id;
    if (answer.status >= 400 || typeof clientId !== "string" || !clientId)
        throw new SignInError(
            "unsupported-sign-in",
            `The server's sign-in service did not accept this tool as a client (${answer.status}${typeof answer.json?.error === "string" ? ` ${answer.json.error}` : ""}).`,
        );
    return clientId;
}

/** A token request (code exchange, refresh): the answer checked by matrix-js-sdk's validator. */
async function tokenGrant(
    sdk: Sdk,
    metadata: ValidatedAuthMetadata,
    params: Record<string, string>,
    what: string,
    opts: OAuthRequestOptions,
): Promise<BearerTokens> {
    const answer = await post(metadata.token_endpoint, new URLSearchParams(params), what, opts);
    if (answer.status >= 400) {
        const error = typeof answer.json?.error === "string" ? answer.json.error : String(answer.status);
        throw new Error(`the server refused ${what}: ${error}`);
    }
    sdk.validateBearerTokenResponse(answer.json);
    return answer.json as unknown as BearerTokens;
}

function tokenEndpoint(
    sdk: Sdk,
    metadata: ValidatedAuthMetadata,
    clientId: string,
    opts: OAuthRequestOptions,
): ConstructorParameters<typeof RefreshingTokens>[1] {
    // A session outlives the sign-in: its own requests are not cancelled by the sign-in's signal.
    const own: OAuthRequestOptions = { ...opts, signal: undefined };
    const revocation = (token: string, hint: "access_token" | "refresh_token") =>
        new URLSearchParams({ token, token_type_hint: hint, client_id: clientId });
    return {
        async refresh(refreshToken) {
            return toTokenSet(
                await tokenGrant(
                    sdk,
                    metadata,
                    { grant_type: "refresh_token", client_id: clientId, refresh_token: refreshToken },
                    "the token refresh",
                    own,
                ),
            );
        },
        async revoke(tokens) {
            // Revoking the refresh token ends the whole session (and its device); the access token too, to be sure.
            const url = metadata.revocation_endpoint!;
            if (tokens.refreshToken)
                await post(url, revocation(tokens.refreshToken, "refresh_token"), "the sign-out", own).catch(
                    () => undefined,
                );
            await post(url, revocation(tokens.accessToken, "access_token"), "the sign-out", own).catch(() => undefined);
        },
        revokeOnPageHide(tokens) {
            // The page is going away: `keepalive` lets these outlive it. A form POST needs no CORS preflight; no
            // redirect is followed (the address was checked, where it would lead was not).
            const send = (token: string, hint: "access_token" | "refresh_token") =>
                void (opts.fetchFn ?? defaultFetch)(metadata.revocation_endpoint!, {
                    method: "POST",
                    keepalive: true,
                    redirect: "error",
                    headers: { "Content-Type": "application/x-www-form-urlencoded" },
                    body: revocation(token, hint).toString(),
                }).catch(() => undefined);
            if (tokens.refreshToken) send(tokens.refreshToken, "refresh_token");
            send(tokens.accessToken, "access_token");
        },
    };
}

function toTokenSet(t: BearerTokens): TokenSet {
    return {
        accessToken: t.access_token,
        refreshToken: t.refresh_token,
        expiresAt: t.expires_in ? Date.now() + t.expires_in * 1000 : undefined,
    };
}

function randomState(): string {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Authorization code + PKCE: the person signs in on the server's page, the code comes back through `browser`. */
export async function signInWithAuthorizationCode(
    baseUrl: string,
    metadata: AuthMetadata,
    client: OAuthClientInfo,
    browser: BrowserSignIn,
    opts: OAuthRequestOptions = {},
): Promise<SignedInSession> {
    const sdk = await loadSdk();
    const valid = validated(sdk, metadata);
    const clientId = await register(valid, client, browser.redirectUri, false, opts);
    const oauth = new sdk.OAuth2(valid, { clientId });
    const state = randomState();
    const url = await oauth.generateAuthorizationCodeGrantUrl(state, browser.redirectUri, browser.responseMode);
    // Built from the checked metadata; checked again as what is actually opened.
    const back = await browser.open(checkServerUrl(url, "its sign-in page"), state);
    if (back.get("state") !== state)
        throw new SignInError(
            "idp-refused",
            "The sign-in page answered for another sign-in attempt; nothing was signed in. Try again.",
        );
    const error = back.get("error");
    if (error) {
        const detail = back.get("error_description");
        throw new SignInError(
            "idp-refused",
            `The sign-in service refused${error === "access_denied" ? " (access was denied)" : ` (${error})`}${detail ? `: ${detail}` : ""}.`,
        );
    }
    const code = back.get("code");
    if (!code) throw new SignInError("idp-refused", "The sign-in page came back without a result.");
    let tokens: BearerTokens;
    try {
        tokens = await tokenGrant(
            sdk,
            valid,
            {
                grant_type: "authorization_code",
                client_id: clientId,
                code_verifier: oauth.context.codeVerifier,
                redirect_uri: browser.redirectUri,
                code,
            },
            "the code exchange",
            opts,
        );
    } catch (e) {
        if (e instanceof SignInError) throw e;
        throw new SignInError(
            "sign-in-expired",
            `The sign-in could not be completed (${(e as Error).message}); it may have taken too long. Try again.`,
        );
    }
    return oauthSession(
        { userId: "", baseUrl, deviceId: oauth.context.deviceId, temporary: true },
        new RefreshingTokens(toTokenSet(tokens), tokenEndpoint(sdk, valid, clientId, opts)),
    );
}

/**
 * Device authorization grant: no redirect at all. `onCode` shows the code and link (the person approves in a popup
 * or on another device) while this polls; `signal` (Cancel) stops the poll at once.
 */
export async function signInWithDeviceGrant(
    baseUrl: string,
    metadata: AuthMetadata,
    client: OAuthClientInfo & { redirectUri: string },
    onCode: (prompt: DeviceGrantPrompt) => void,
    signal?: AbortSignal,
    options: Omit<OAuthRequestOptions, "signal"> = {},
): Promise<SignedInSession> {
    const opts: OAuthRequestOptions = { ...options, signal };
    const sdk = await loadSdk();
    const valid = validated(sdk, metadata);
    if (!valid.device_authorization_endpoint)
        throw new SignInError("unsupported-sign-in", "The server does not offer sign-in with a code.");
    // Registration needs a redirect even for device-only use (the default response type is "code").
    const clientId = await register(valid, client, client.redirectUri, true, opts);
    const oauth = new sdk.OAuth2(valid, { clientId });
    const started = await post(
        valid.device_authorization_endpoint,
        new URLSearchParams({ client_id: clientId, scope: sdk.generateScope(oauth.context.deviceId) }),
        "the request for a sign-in code",
        opts,
    );
    let grant: import("matrix-js-sdk/lib/oauth/index.js").DeviceAuthorizationResponse;
    try {
        if (started.status >= 400) throw new Error(`${started.status} ${String(started.json?.error ?? "")}`.trim());
        const validate: (response: unknown) => void = sdk.validateDeviceAuthorizationResponse;
        validate(started.json);
        grant = started.json as unknown as typeof grant;
    } catch (e) {
        throw new SignInError(
            "unsupported-sign-in",
            `The server did not start a sign-in with a code (${(e as Error).message}).`,
        );
    }
    // The person is sent to these pages (a link, the CLI's browser): checked before anything of them is shown.
    const verificationUri = checkServerUrl(grant.verification_uri, "its approval page (verification_uri)");
    const verificationUriComplete =
        grant.verification_uri_complete === undefined
            ? undefined
            : checkServerUrl(grant.verification_uri_complete, "its approval page (verification_uri_complete)");
    // The server's numbers, kept within reason: no hour-long sleeps, no code "valid" for days.
    let intervalMs = clamp(
        Number.isFinite(grant.interval) ? grant.interval! * 1000 : DEVICE_POLL_INTERVAL_MS.default,
        DEVICE_POLL_INTERVAL_MS,
    );
    const expiresAt =
        Date.now() + clamp(Number.isFinite(grant.expires_in) ? grant.expires_in * 1000 : 0, DEVICE_CODE_LIFETIME_MS);
    onCode({ userCode: grant.user_code, verificationUri, verificationUriComplete, expiresAt });
    const sleep = opts.sleep ?? abortableSleep;
    const endpoint = tokenEndpoint(sdk, valid, clientId, opts);
    for (;;) {
        await sleep(intervalMs, signal);
        if (signal?.aborted) throw cancelled(signal);
        if (Date.now() >= expiresAt)
            throw new SignInError(
                "sign-in-expired",
                "The sign-in code expired before it was approved. Start again for a new code.",
            );
        const answer = await post(
            valid.token_endpoint,
            new URLSearchParams({
                grant_type: "urn:ietf:params:oauth:grant-type:device_code",
                device_code: grant.device_code,
                client_id: clientId,
            }),
            "the check for approval",
            opts,
        );
        if (answer.status < 400 && sdk.isValidDeviceAccessTokenResponse(answer.json)) {
            const tokens = toTokenSet(answer.json as unknown as BearerTokens);
            if (signal?.aborted) {
                // Approved just as the person cancelled: that session is not kept.
                await endpoint.revoke(tokens).catch(() => undefined);
                throw cancelled(signal);
            }
            return oauthSession(
                { userId: "", baseUrl, deviceId: oauth.context.deviceId, temporary: true },
                new RefreshingTokens(tokens, endpoint),
            );
        }
        const error = answer.json?.error;
        if (error === "slow_down") intervalMs = Math.min(DEVICE_POLL_INTERVAL_MS.max, intervalMs + 5_000);
        else if (error === "access_denied")
            throw new SignInError("idp-refused", "The sign-in was refused on the approval page.");
        else if (error === "expired_token")
            throw new SignInError(
                "sign-in-expired",
                "The sign-in code expired before it was approved. Start again for a new code.",
            );
        // authorization_pending, or anything unexpected: ask again after the interval, until the code expires.
    }
}
