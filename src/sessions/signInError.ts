/** The one error shape of discovery and sign-in: a stable code (translated by the page) and a sentence to act on. */

export type SignInErrorCode =
    | "bad-user-id"
    | "same-account"
    | "server-not-allowed"
    | "unreachable"
    | "not-answering"
    | "not-a-homeserver"
    | "no-well-known"
    | "insecure-homeserver"
    /** The server gave an address (sign-in, approval page, redirect) that is not https or loopback http. */
    | "unsafe-url"
    | "wrong-password"
    | "expired-token"
    /** An access token the person gave is not (or no longer) valid. */
    | "token-not-valid"
    | "wrong-account"
    | "deactivated"
    | "unsupported-sign-in"
    | "rate-limited"
    | "popup-blocked"
    | "popup-closed"
    | "idp-refused"
    | "sign-in-expired"
    | "sign-in-timeout"
    | "sign-in-cancelled";

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
