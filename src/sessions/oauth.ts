/**
 * Signing in through the server's OAuth 2.0 authorization server (Matrix 1.15, "next-generation auth", servers behind
 * Matrix Authentication Service): dynamic client registration, then authorization code + PKCE through a browser, or
 * the device authorization grant (RFC 8628). The protocol is matrix-js-sdk's `OAuth2`; this file only wires it to
 * the module's browser hand-off and to a refreshing session.
 */
import type { AuthMetadata } from "./discovery.ts";
import { checkServerUrl } from "./serverUrl.ts";
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

type Sdk = typeof import("matrix-js-sdk/lib/oauth/index.js");
type ValidatedAuthMetadata = import("matrix-js-sdk/lib/oauth/index.js").ValidatedAuthMetadata;
// Loaded on demand: only OAuth sign-ins pay for it.
const loadSdk = (): Promise<Sdk> => import("matrix-js-sdk/lib/oauth/index.js");

function validated(sdk: Sdk, metadata: AuthMetadata): ValidatedAuthMetadata {
    if (!sdk.isValidAuthMetadata(metadata)) {
        throw new SignInError(
            "unsupported-sign-in",
            `The server's OAuth 2.0 sign-in (${metadata.issuer}) lacks what this tool needs (client registration, code grant with PKCE, refresh, revocation).`,
        );
    }
    return metadata;
}

async function register(
    sdk: Sdk,
    metadata: ValidatedAuthMetadata,
    client: OAuthClientInfo,
    redirectUri: string,
    device: boolean,
): Promise<string> {
    const grants = [
        "authorization_code",
        "refresh_token",
        ...(device ? ["urn:ietf:params:oauth:grant-type:device_code"] : []),
    ] as [string, ...string[]];
    try {
        return await sdk.OAuth2.registerClient(metadata, {
            client_name: client.clientName,
            client_uri: client.clientUri,
            application_type: client.applicationType,
            redirect_uris: [redirectUri],
            grant_types: grants,
            token_endpoint_auth_method: "none",
        });
    } catch (e) {
        throw new SignInError(
            "unsupported-sign-in",
            `The server's sign-in service did not accept this tool as a client (${(e as Error).message}).`,
        );
    }
}

function tokenEndpoint(oauth: InstanceType<Sdk["OAuth2"]>): ConstructorParameters<typeof RefreshingTokens>[1] {
    return {
        async refresh(refreshToken) {
            return toTokenSet(await oauth.performRefreshTokenGrant(refreshToken));
        },
        async revoke(tokens) {
            // Revoking the refresh token ends the whole session (and its device); the access token too, to be sure.
            if (tokens.refreshToken)
                await oauth.revokeToken(tokens.refreshToken, "refresh_token").catch(() => undefined);
            await oauth.revokeToken(tokens.accessToken, "access_token").catch(() => undefined);
        },
    };
}

function toTokenSet(t: { access_token: string; refresh_token?: string; expires_in?: number }): TokenSet {
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
): Promise<SignedInSession> {
    const sdk = await loadSdk();
    const valid = validated(sdk, metadata);
    const clientId = await register(sdk, valid, client, browser.redirectUri, false);
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
    let tokens;
    try {
        tokens = await oauth.completeAuthorizationCodeGrant(code, browser.redirectUri);
    } catch (e) {
        throw new SignInError(
            "sign-in-expired",
            `The sign-in could not be completed (${(e as Error).message}); it may have taken too long. Try again.`,
        );
    }
    return oauthSession(
        { userId: "", baseUrl, deviceId: oauth.context.deviceId, temporary: true },
        new RefreshingTokens(toTokenSet(tokens), tokenEndpoint(oauth)),
    );
}

/**
 * Device authorization grant: no redirect at all. `onCode` shows the code and link (the person approves in a popup
 * or on another device) while this polls; `signal` abandons the wait (a late approval is then revoked).
 */
export async function signInWithDeviceGrant(
    baseUrl: string,
    metadata: AuthMetadata,
    client: OAuthClientInfo & { redirectUri: string },
    onCode: (prompt: DeviceGrantPrompt) => void,
    signal?: AbortSignal,
): Promise<SignedInSession> {
    const sdk = await loadSdk();
    const valid = validated(sdk, metadata);
    if (!valid.device_authorization_endpoint)
        throw new SignInError("unsupported-sign-in", "The server does not offer sign-in with a code.");
    // Registration needs a redirect even for device-only use (the default response type is "code").
    const clientId = await register(sdk, valid, client, client.redirectUri, true);
    const oauth = new sdk.OAuth2(valid, { clientId });
    const grant = await oauth.startDeviceAuthorizationGrant().catch((e: Error) => {
        throw new SignInError("unsupported-sign-in", `The server did not start a sign-in with a code (${e.message}).`);
    });
    // The person is sent to these pages (a link, the CLI's browser): checked before anything of them is shown.
    const verificationUri = checkServerUrl(grant.verification_uri, "its approval page (verification_uri)");
    const verificationUriComplete =
        grant.verification_uri_complete === undefined
            ? undefined
            : checkServerUrl(grant.verification_uri_complete, "its approval page (verification_uri_complete)");
    onCode({
        userCode: grant.user_code,
        verificationUri,
        verificationUriComplete,
        expiresAt: Date.now() + grant.expires_in * 1000,
    });
    const waiting = oauth.waitForDeviceAuthorizationGrant(grant);
    const result = await (signal
        ? Promise.race([
              waiting,
              new Promise<never>((_, reject) => {
                  const stop = () =>
                      reject(new SignInError("sign-in-cancelled", "Signing in with a code was cancelled."));
                  if (signal.aborted) stop();
                  signal.addEventListener("abort", stop, { once: true });
              }),
          ]).catch((e) => {
              // The poll goes on until the code expires: revoke whatever it still yields.
              void waiting
                  .then((late) => ("access_token" in late ? tokenEndpoint(oauth).revoke(toTokenSet(late)) : undefined))
                  .catch(() => undefined);
              throw e;
          })
        : waiting);
    if (!("access_token" in result)) {
        if (result.error === "access_denied")
            throw new SignInError("idp-refused", "The sign-in was refused on the approval page.");
        throw new SignInError(
            "sign-in-expired",
            "The sign-in code expired before it was approved. Start again for a new code.",
        );
    }
    return oauthSession(
        { userId: "", baseUrl, deviceId: oauth.context.deviceId, temporary: true },
        new RefreshingTokens(toTokenSet(result), tokenEndpoint(oauth)),
    );
}
