/**
 * Finding a homeserver and signing in. Every failure becomes a `SignInError` with a code and a message a person can
 * act on; nothing here changes anything on either account except creating the new account's session.
 */
import type { AccountSession } from "../engine/context.ts";
import { parseUserId } from "../engine/userId.ts";
import { MatrixHttp, isMatrixRequestError } from "./matrixHttp.ts";

export type SignInErrorCode =
    | "bad-user-id"
    | "same-account"
    | "server-not-allowed"
    | "unreachable"
    | "not-a-homeserver"
    | "no-well-known"
    | "wrong-password"
    | "expired-token"
    | "wrong-account"
    | "deactivated"
    | "unsupported-sign-in"
    | "rate-limited";

export class SignInError extends Error {
    public constructor(
        public readonly code: SignInErrorCode,
        message: string,
    ) {
        super(message);
        this.name = "SignInError";
    }
}

export function isSignInError(e: unknown): e is SignInError {
    return typeof e === "object" && e !== null && (e as { name?: string }).name === "SignInError";
}

/** Checks that a URL answers as a Matrix homeserver (GET /_matrix/client/versions). */
export async function checkHomeserver(baseUrl: string, fetchFn: typeof fetch = (...a) => globalThis.fetch(...a)): Promise<string> {
    let url: URL;
    try {
        url = new URL(baseUrl);
        if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
    } catch {
        throw new SignInError("unreachable", `“${baseUrl}” is not a homeserver address (expected something like https://matrix.example.org).`);
    }
    const base = url.href.replace(/\/+$/, "");
    let response: Response;
    try {
        response = await fetchFn(`${base}/_matrix/client/versions`);
    } catch (e) {
        throw new SignInError("unreachable", `Could not reach ${base}: ${(e as Error).message}. Check the address and your connection.`);
    }
    const body = (await response.json().catch(() => undefined)) as { versions?: unknown } | undefined;
    if (!response.ok || !Array.isArray(body?.versions)) {
        throw new SignInError("not-a-homeserver", `${base} answered, but it is not a Matrix homeserver (no /_matrix/client/versions).`);
    }
    return base;
}

/** The homeserver for a server name, from its `.well-known/matrix/client` (spec: "Server discovery"). */
export async function discoverHomeserver(serverName: string, fetchFn: typeof fetch = (...a) => globalThis.fetch(...a)): Promise<string> {
    const wellKnown = `https://${serverName}/.well-known/matrix/client`;
    let response: Response;
    try {
        response = await fetchFn(wellKnown);
    } catch (e) {
        throw new SignInError(
            "no-well-known",
            `Could not look up the homeserver of ${serverName} (${wellKnown}: ${(e as Error).message}). Give its address explicitly.`,
        );
    }
    if (response.status === 404) {
        throw new SignInError("no-well-known", `${serverName} does not publish where its homeserver is (${wellKnown} is missing). Give its address explicitly.`);
    }
    const body = (await response.json().catch(() => undefined)) as { "m.homeserver"?: { base_url?: unknown } } | undefined;
    const baseUrl = body?.["m.homeserver"]?.base_url;
    if (!response.ok || typeof baseUrl !== "string") {
        throw new SignInError("no-well-known", `${wellKnown} does not say where the homeserver is. Give its address explicitly.`);
    }
    return checkHomeserver(baseUrl, fetchFn);
}

interface LoginFlow {
    type: string;
}

function describeFlows(flows: LoginFlow[]): string {
    const names = flows.map((f) =>
        f.type === "m.login.sso" ? "single sign-on" : f.type === "m.login.token" ? "login tokens" : f.type === "m.login.password" ? "password" : f.type,
    );
    return [...new Set(names)].join(", ") || "nothing";
}

/** The server's sign-in methods; servers behind Matrix Authentication Service answer 404 on /login. */
export async function loginFlows(baseUrl: string): Promise<LoginFlow[]> {
    const http = new MatrixHttp(baseUrl);
    try {
        const { flows } = await http.request<{ flows?: LoginFlow[] }>("GET", "/login");
        return Array.isArray(flows) ? flows : [];
    } catch (e) {
        if (isMatrixRequestError(e) && (e.httpStatus === 404 || e.httpStatus === 405)) return [{ type: "oauth" }];
        throw new SignInError("unreachable", `Could not ask ${baseUrl} how to sign in: ${(e as Error).message}`);
    }
}

export interface PasswordSignInOptions {
    deviceName: string;
}

export async function signInWithPassword(baseUrl: string, userId: string, password: string, opts: PasswordSignInOptions): Promise<AccountSession & { deviceId: string; accessToken: string }> {
    const parsed = parseUserId(userId);
    if (!parsed.ok) throw new SignInError("bad-user-id", parsed.error);
    const flows = await loginFlows(baseUrl);
    if (!flows.some((f) => f.type === "m.login.password")) {
        throw new SignInError(
            "unsupported-sign-in",
            `${baseUrl} does not accept passwords here; it offers ${describeFlows(flows)}. ` +
                "Sign in with an access token from a client of that account instead.",
        );
    }
    const http = new MatrixHttp(baseUrl);
    try {
        const response = await http.request<{ user_id: string; access_token: string; device_id: string }>("POST", "/login", {
            body: {
                type: "m.login.password",
                identifier: { type: "m.id.user", user: parsed.userId },
                password,
                initial_device_display_name: opts.deviceName,
            },
        });
        if (response.user_id !== parsed.userId) {
            throw new SignInError("wrong-account", `The server signed in ${response.user_id}, not ${parsed.userId}.`);
        }
        return {
            userId: response.user_id,
            deviceId: response.device_id,
            accessToken: response.access_token,
            http: new MatrixHttp(baseUrl, response.access_token),
        };
    } catch (e) {
        throw loginError(e, parsed.userId);
    }
}

function loginError(e: unknown, userId: string): unknown {
    if (!isMatrixRequestError(e)) return e;
    if (e.errcode === "M_USER_DEACTIVATED") return new SignInError("deactivated", `${userId} has been deactivated; it cannot receive a migration.`);
    // Synapse clears a deactivated account's password, so it answers both cases with M_FORBIDDEN.
    if (e.errcode === "M_FORBIDDEN") {
        return new SignInError("wrong-password", `Wrong password for ${userId}, or the account has been deactivated (the server does not say which).`);
    }
    if (e.isRateLimited) {
        const wait = e.retryAfterMs ? ` Try again in ${Math.ceil(e.retryAfterMs / 1000)} s.` : "";
        return new SignInError("rate-limited", `The server is limiting sign-in attempts for ${userId}.${wait}`);
    }
    if (e.httpStatus === 0) return new SignInError("unreachable", e.message);
    return e;
}

/** A session from an existing access token, checked with /whoami. */
export async function sessionFromAccessToken(baseUrl: string, accessToken: string, expectedUserId?: string): Promise<AccountSession & { deviceId?: string }> {
    const http = new MatrixHttp(baseUrl, accessToken);
    let whoami: { user_id: string; device_id?: string };
    try {
        whoami = await http.request("GET", "/account/whoami");
    } catch (e) {
        if (isMatrixRequestError(e) && (e.errcode === "M_UNKNOWN_TOKEN" || e.httpStatus === 401)) {
            throw new SignInError("expired-token", "The access token is not valid (expired, signed out, or the account was deactivated). Get a new one.");
        }
        if (isMatrixRequestError(e) && e.errcode === "M_USER_DEACTIVATED") throw new SignInError("deactivated", "That account has been deactivated.");
        if (isMatrixRequestError(e) && e.httpStatus === 0) throw new SignInError("unreachable", e.message);
        throw e;
    }
    if (expectedUserId && whoami.user_id !== expectedUserId) {
        throw new SignInError("wrong-account", `The access token belongs to ${whoami.user_id}, not ${expectedUserId}.`);
    }
    return { userId: whoami.user_id, deviceId: whoami.device_id, http };
}

/** The checks every front end makes before anything else: well-formed, different accounts, allowed server. */
export function checkTarget(oldUserId: string, newUserIdInput: string, allowedServers: string[] = []): string {
    const parsed = parseUserId(newUserIdInput);
    if (!parsed.ok) throw new SignInError("bad-user-id", parsed.error);
    if (parsed.userId === oldUserId) throw new SignInError("same-account", "The new account must be a different account from the one you are moving from.");
    if (allowedServers.length && !allowedServers.includes(parsed.serverName)) {
        throw new SignInError("server-not-allowed", `Migrations here may only go to accounts on ${allowedServers.join(", ")}.`);
    }
    return parsed.userId;
}
