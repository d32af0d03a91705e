/**
 * Signing an account in, whichever way its server offers: password, single sign-on (a `loginToken` brought back by
 * the browser), OAuth 2.0 (authorization code or device grant), or an access token the person already has. Every
 * session is checked with `/whoami` against the account that was asked for — a server that signs in someone else is
 * refused and that session signed out. Every failure is a `SignInError` a person can act on; nothing here changes
 * either account except creating the session.
 */
import { parseUserId } from "../engine/userId.ts";
import { type SignInDiscovery, describeMethods } from "./discovery.ts";
import { MatrixHttp, isMatrixRequestError } from "./matrixHttp.ts";
import {
    type BrowserSignIn,
    type DeviceGrantPrompt,
    type OAuthClientInfo,
    signInWithAuthorizationCode,
    signInWithDeviceGrant,
} from "./oauth.ts";
import { checkServerUrl } from "./serverUrl.ts";
import { type SignedInSession, tokenSession } from "./session.ts";
import { SignInError, isSignInError } from "./signInError.ts";

export { SignInError, isSignInError, type SignInErrorCode } from "./signInError.ts";

/** Sign-in requests (POST /login) give up after this long; the session's own requests are paced by the engine. */
const SIGN_IN_TIMEOUT_MS = 30_000;
const timedFetch: typeof fetch = (input, init) =>
    globalThis.fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(SIGN_IN_TIMEOUT_MS) });

export type SignInRequest =
    | { method: "password"; password: string }
    | { method: "token"; accessToken: string }
    | { method: "sso"; idpId?: string; browser: BrowserSignIn }
    | { method: "oauth"; browser: BrowserSignIn; client: OAuthClientInfo }
    | {
          method: "device";
          client: OAuthClientInfo & { redirectUri: string };
          onCode(prompt: DeviceGrantPrompt): void;
          signal?: AbortSignal;
      };

/** The sign-in methods by name: what the CLI's flags and the page's choice both come down to. */
export type SignInMethodName = SignInRequest["method"];

export interface SignInOptions {
    /** The name the new session gets in the account's device list. */
    deviceName: string;
}

/** Signs `discovery.offer.userId` in with the chosen method, refusing a method the server does not offer. */
export async function signIn(
    discovery: SignInDiscovery,
    request: SignInRequest,
    opts: SignInOptions,
): Promise<SignedInSession> {
    const { userId, baseUrl, methods } = discovery.offer;
    const offered = (kind: string) => methods.some((m) => m.kind === kind);
    const refuse = (what: string): never => {
        throw new SignInError(
            "unsupported-sign-in",
            `${baseUrl} does not accept ${what} here; it offers ${describeMethods(methods)}.`,
        );
    };
    let session: SignedInSession;
    switch (request.method) {
        case "password":
            if (!offered("password")) refuse("passwords");
            session = await passwordLogin(baseUrl, userId, request.password, opts);
            break;
        case "token":
            return sessionFromAccessToken(baseUrl, request.accessToken, userId);
        case "sso":
            if (!offered("sso")) refuse("single sign-on");
            session = await ssoLogin(baseUrl, userId, request.idpId, request.browser, opts);
            break;
        case "oauth":
            if (!discovery.authMetadata) refuse("OAuth 2.0 sign-in");
            session = await signInWithAuthorizationCode(
                baseUrl,
                discovery.authMetadata!,
                request.client,
                request.browser,
            );
            break;
        case "device":
            if (!methods.some((m) => m.kind === "oauth" && m.deviceGrant))
                refuse("sign-in with a code (device authorization)");
            session = await signInWithDeviceGrant(
                baseUrl,
                discovery.authMetadata!,
                request.client,
                request.onCode,
                request.signal,
            );
            break;
    }
    return confirmAccount(session, userId);
}

/**
 * Checks with `/whoami` that the session belongs to `expectedUserId`. When the server signed in someone else (the
 * person chose another account on the identity provider, or the server lies), that session is signed out again.
 */
export async function confirmAccount(session: SignedInSession, expectedUserId: string): Promise<SignedInSession> {
    let whoami: { user_id?: string; device_id?: string };
    try {
        whoami = await session.http.request("GET", "/account/whoami");
    } catch (e) {
        await session.signOut();
        throw signInFailure(e, expectedUserId);
    }
    if (whoami.user_id !== expectedUserId) {
        await session.signOut();
        throw new SignInError(
            "wrong-account",
            `The server signed in ${whoami.user_id ?? "an unknown account"}, not ${expectedUserId}; that session was signed out again. ` +
                "Sign in as the account you want to move to (on the sign-in page, choose or log in to that account).",
        );
    }
    return Object.assign(session, { userId: whoami.user_id, deviceId: session.deviceId ?? whoami.device_id });
}

async function login(
    baseUrl: string,
    userId: string,
    body: Record<string, unknown>,
    opts: SignInOptions,
    method: "password" | "sso",
): Promise<SignedInSession> {
    const http = new MatrixHttp(baseUrl, undefined, timedFetch);
    try {
        const response = await http.request<{ user_id: string; access_token: string; device_id: string }>(
            "POST",
            "/login",
            {
                body: { ...body, initial_device_display_name: opts.deviceName },
            },
        );
        return tokenSession({
            userId: response.user_id,
            baseUrl,
            deviceId: response.device_id,
            method,
            temporary: true,
            accessToken: response.access_token,
        });
    } catch (e) {
        throw signInFailure(e, userId, method);
    }
}

function passwordLogin(
    baseUrl: string,
    userId: string,
    password: string,
    opts: SignInOptions,
): Promise<SignedInSession> {
    return login(
        baseUrl,
        userId,
        { type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password },
        opts,
        "password",
    );
}

/**
 * Single sign-on: the browser goes to the server's `/login/sso/redirect` and comes back with a `loginToken` (valid
 * for seconds), exchanged at once with `m.login.token`. A random `state` in the redirect ties the answer to this
 * attempt; Synapse keeps the redirect's query and adds `loginToken` to it.
 */
async function ssoLogin(
    baseUrl: string,
    userId: string,
    idpId: string | undefined,
    browser: BrowserSignIn,
    opts: SignInOptions,
): Promise<SignedInSession> {
    const state = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
        "",
    );
    const redirect = new URL(browser.redirectUri);
    redirect.searchParams.set("state", state);
    const url = `${baseUrl}/_matrix/client/v3/login/sso/redirect${idpId ? `/${encodeURIComponent(idpId)}` : ""}?redirectUrl=${encodeURIComponent(redirect.href)}`;
    const back = await browser.open(checkServerUrl(url, "its single sign-on page"), state);
    if (back.get("state") !== state)
        throw new SignInError(
            "idp-refused",
            "The sign-in page answered for another sign-in attempt; nothing was signed in. Try again.",
        );
    const loginToken = back.get("loginToken");
    if (!loginToken)
        throw new SignInError(
            "idp-refused",
            "Single sign-on came back without signing in (the identity provider refused, or the sign-in was abandoned).",
        );
    return login(baseUrl, userId, { type: "m.login.token", token: loginToken }, opts, "sso");
}

function signInFailure(e: unknown, userId: string, method?: "password" | "sso"): unknown {
    if (!isMatrixRequestError(e)) return e;
    if (e.errcode === "M_USER_DEACTIVATED")
        return new SignInError("deactivated", `${userId} has been deactivated; it cannot receive a migration.`);
    if (method === "sso" && e.errcode === "M_FORBIDDEN") {
        return new SignInError(
            "sign-in-expired",
            "The single sign-on result expired before it could be used (it lasts seconds). Try again.",
        );
    }
    // Synapse clears a deactivated account's password, so it answers both cases with M_FORBIDDEN.
    if (e.errcode === "M_FORBIDDEN") {
        return new SignInError(
            "wrong-password",
            `Wrong password for ${userId}, or the account has been deactivated (the server does not say which).`,
        );
    }
    if (e.errcode === "M_UNKNOWN_TOKEN" || e.httpStatus === 401) {
        return new SignInError(
            "expired-token",
            "The access token is not valid (expired, signed out, or the account was deactivated). Get a new one.",
        );
    }
    if (e.isRateLimited) {
        const wait = e.retryAfterMs ? ` Try again in ${Math.ceil(e.retryAfterMs / 1000)} s.` : "";
        return new SignInError("rate-limited", `The server is limiting sign-in attempts for ${userId}.${wait}`);
    }
    if (e.httpStatus === 0) {
        return /timeout|aborted/i.test(e.message)
            ? new SignInError("not-answering", `The homeserver is not answering (${e.message}). Try again later.`)
            : new SignInError("unreachable", e.message);
    }
    return e;
}

/** A session from an existing access token, checked with /whoami. The token stays the user's: never signed out. */
export async function sessionFromAccessToken(
    baseUrl: string,
    accessToken: string,
    expectedUserId?: string,
): Promise<SignedInSession> {
    const session = tokenSession({ userId: "", baseUrl, method: "token", temporary: false, accessToken });
    let whoami: { user_id: string; device_id?: string };
    try {
        whoami = await session.http.request("GET", "/account/whoami");
    } catch (e) {
        if (isMatrixRequestError(e) && e.errcode === "M_USER_DEACTIVATED")
            throw new SignInError("deactivated", "That account has been deactivated.");
        const failure = signInFailure(e, expectedUserId ?? "the account");
        // Not a sign-in that expired: the token the person gave is not valid (Synapse says the same of a deactivated
        // account's tokens).
        if (isSignInError(failure) && failure.code === "expired-token")
            throw new SignInError("token-not-valid", failure.message);
        throw failure;
    }
    if (expectedUserId && whoami.user_id !== expectedUserId) {
        throw new SignInError("wrong-account", `The access token belongs to ${whoami.user_id}, not ${expectedUserId}.`);
    }
    return Object.assign(session, { userId: whoami.user_id, deviceId: whoami.device_id });
}

/** The checks every front end makes before anything else: well-formed, different accounts, allowed server. */
export function checkTarget(oldUserId: string, newUserIdInput: string, allowedServers: string[] = []): string {
    const parsed = parseUserId(newUserIdInput);
    if (!parsed.ok) throw new SignInError("bad-user-id", parsed.error);
    if (parsed.userId === oldUserId)
        throw new SignInError(
            "same-account",
            "The new account must be a different account from the one you are moving from.",
        );
    if (allowedServers.length && !allowedServers.includes(parsed.serverName)) {
        throw new SignInError(
            "server-not-allowed",
            `Migrations here may only go to accounts on ${allowedServers.join(", ")}.`,
        );
    }
    return parsed.userId;
}
