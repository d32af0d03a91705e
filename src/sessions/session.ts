/**
 * A session this tool holds on an account: who it is, how it talks to the server, and how it ends. OAuth 2.0
 * sessions keep their access token fresh (servers behind Matrix Authentication Service issue tokens that live minutes,
 * while a migration can run for hours): a refresh shortly before expiry, and once more when the server says the token
 * is unknown, for every request — the engine never sees it.
 */
import type { AccountSession } from "../engine/context.ts";
import type { SignInMethodKind } from "./discovery.ts";
import { ERROR_BODY_LIMIT, MatrixHttp, readCapped } from "./matrixHttp.ts";
import { checkedRedirects } from "./serverUrl.ts";
import { SignInError } from "./signInError.ts";

export interface SignedInSession extends AccountSession {
    baseUrl: string;
    deviceId?: string;
    method: SignInMethodKind;
    /** This tool created the session and ends it; false for an access token the user gave (left as it is). */
    temporary: boolean;
    /** The current access token (for a second client on the same device, e.g. a crypto session). */
    accessToken(): string;
    /** `fetch` that keeps the token fresh: give it to a second client on this session (matrix-js-sdk's fetchFn). */
    fetch: typeof fetch;
    /** Signs the session out (OAuth 2.0: revokes its tokens, which removes the device). Never throws. */
    signOut(): Promise<void>;
    /**
     * The same, for a page that is going away: requests sent with `keepalive`, which outlive the page (a normal one is
     * cancelled with it). Nothing to wait for; never throws.
     */
    signOutOnPageHide(): void;
}

export interface TokenSet {
    accessToken: string;
    refreshToken?: string;
    /** Epoch ms. */
    expiresAt?: number;
}

export interface TokenEndpoint {
    refresh(refreshToken: string): Promise<TokenSet>;
    revoke(tokens: TokenSet): Promise<void>;
    /** Revocation requests that outlive the page (`keepalive`); sent, not awaited. */
    revokeOnPageHide?(tokens: TokenSet): void;
}

// Redirects only to https (or loopback http), never from https to http: the token goes with them.
const baseFetch: typeof fetch = checkedRedirects((...args) => globalThis.fetch(...args));

function withBearer(init: RequestInit | undefined, token: string): RequestInit {
    const headers = new Headers(init?.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return { ...init, headers };
}

/** Access and refresh token of one OAuth 2.0 session, refreshed on demand (one refresh at a time). */
export class RefreshingTokens {
    private inflight?: Promise<void>;
    private issuedAt: number;
    private ended = false;

    public constructor(
        private tokens: TokenSet,
        private readonly endpoint: TokenEndpoint,
        private readonly fetchFn: typeof fetch = baseFetch,
        private readonly now: () => number = Date.now,
    ) {
        this.issuedAt = now();
    }

    public current(): string {
        return this.tokens.accessToken;
    }

    /** Refresh when less than a third of the token's life (at most 30 s) is left. */
    private dueForRefresh(): boolean {
        const { expiresAt, refreshToken } = this.tokens;
        if (!expiresAt || !refreshToken) return false;
        const margin = Math.min(30_000, (expiresAt - this.issuedAt) / 3);
        return expiresAt - this.now() < margin;
    }

    public refresh(): Promise<void> {
        if (this.ended) return Promise.reject(new SignInError("expired-token", "This session was signed out."));
        this.inflight ??= (async () => {
            const refreshToken = this.tokens.refreshToken;
            if (!refreshToken)
                throw new SignInError(
                    "expired-token",
                    "The access token expired and the server gave no way to renew it: sign in again.",
                );
            try {
                const next = await this.endpoint.refresh(refreshToken);
                this.tokens = { ...next, refreshToken: next.refreshToken ?? refreshToken };
                this.issuedAt = this.now();
            } catch (e) {
                throw new SignInError(
                    "expired-token",
                    `The sign-in could not be renewed (${(e as Error).message}): sign in again.`,
                );
            }
        })().finally(() => (this.inflight = undefined));
        return this.inflight;
    }

    /** `fetch` with this session's current token; refreshes before expiry, and once after an "unknown token". */
    public readonly fetch: typeof fetch = async (input, init) => {
        if (this.dueForRefresh()) await this.refresh();
        const sent = this.tokens.accessToken;
        const response = await this.fetchFn(input, withBearer(init, sent));
        if (response.status !== 401 || !this.tokens.refreshToken || this.ended) return response;
        // An error body, read up to a cap (a server must not fill memory through it).
        const body = (await readCapped(response.clone(), ERROR_BODY_LIMIT)
            .then((text) => JSON.parse(text) as unknown)
            .catch(() => undefined)) as { errcode?: string } | undefined;
        if (body?.errcode !== "M_UNKNOWN_TOKEN") return response;
        // Another request may have refreshed meanwhile.
        if (this.tokens.accessToken === sent) await this.refresh();
        return this.fetchFn(input, withBearer(init, this.tokens.accessToken));
    };

    /** Revokes with requests that outlive the page; the tokens are not used again here. */
    public revokeOnPageHide(): void {
        if (this.ended) return;
        this.ended = true;
        this.endpoint.revokeOnPageHide?.(this.tokens);
    }

    public async revoke(): Promise<void> {
        if (this.ended) return;
        this.ended = true;
        await this.inflight?.catch(() => undefined);
        await this.endpoint.revoke(this.tokens);
    }
}

/** POST /logout with `keepalive`: it finishes after the page is gone. */
function logoutOnPageHide(fetchFn: typeof fetch, baseUrl: string, accessToken: string): void {
    void fetchFn(`${baseUrl.replace(/\/+$/, "")}/_matrix/client/v3/logout`, {
        method: "POST",
        keepalive: true,
        headers: { "Authorization": `Bearer ${accessToken}`, "Content-Type": "application/json" },
        body: "{}",
    }).catch(() => undefined);
}

/** A session on a plain access token (password, SSO login token, or one the user gave). */
export function tokenSession(
    fields: {
        userId: string;
        baseUrl: string;
        deviceId?: string;
        method: SignInMethodKind;
        temporary: boolean;
        accessToken: string;
    },
    fetchFn: typeof fetch = baseFetch,
): SignedInSession {
    const http = new MatrixHttp(fields.baseUrl, fields.accessToken, fetchFn);
    let signedOut = false;
    return {
        ...fields,
        http,
        accessToken: () => fields.accessToken,
        fetch: (input, init) => fetchFn(input, withBearer(init, fields.accessToken)),
        async signOut() {
            if (signedOut) return;
            signedOut = true;
            await http.request("POST", "/logout", { body: {} }).catch(() => undefined);
        },
        signOutOnPageHide() {
            if (signedOut) return;
            signedOut = true;
            logoutOnPageHide(fetchFn, fields.baseUrl, fields.accessToken);
        },
    };
}

/** A session on refreshing OAuth 2.0 tokens. */
export function oauthSession(
    fields: { userId: string; baseUrl: string; deviceId?: string; temporary: boolean },
    tokens: RefreshingTokens,
): SignedInSession {
    return {
        ...fields,
        method: "oauth",
        http: new MatrixHttp(fields.baseUrl, () => tokens.current(), tokens.fetch),
        accessToken: () => tokens.current(),
        fetch: tokens.fetch,
        signOut: () => tokens.revoke().catch(() => undefined),
        signOutOnPageHide() {
            // The homeserver's logout (as for any session), and the revocation that ends an OAuth 2.0 session at its
            // authorization server — both with keepalive: a normal revocation would die with the page.
            logoutOnPageHide(baseFetch, fields.baseUrl, tokens.current());
            tokens.revokeOnPageHide();
        },
    };
}
