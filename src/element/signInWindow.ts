/**
 * Sign-in popups for the new account. Element treats a `loginToken` or OAuth `code` in its own URL as its own login,
 * so the new account's single sign-on and OAuth 2.0 pages open in a popup whose redirect target is the module's small
 * callback page (dist/module/callback.html). That page hands its parameters to the opener with `postMessage`,
 * addressed to its own origin, and closes. Here the opener accepts one message, from that popup and that origin only.
 */
import type { BrowserSignIn } from "../sessions/oauth.ts";
import { SignInError } from "../sessions/signInError.ts";
import type { SignInWindow } from "../ui/runtime.ts";
import { CALLBACK_MESSAGE_TYPE } from "./callbackMessage.ts";
const WAIT_MS = 10 * 60_000;

/** Opens an empty popup; call it synchronously in a click handler. Null when the browser blocked it. */
export function openSignInWindow(): SignInWindow | null {
    const popup = window.open("about:blank", "_blank", "popup,width=520,height=720");
    if (!popup) return null;
    return {
        navigate: (url) => popup.location.replace(url),
        isClosed: () => popup.closed,
        close: () => popup.close(),
        isSource: (source) => source === popup,
    };
}

/** A BrowserSignIn over a popup: navigates it, and waits for the callback page's one message (or its closing). */
export function popupBrowser(signInWindow: SignInWindow, callbackUrl: string): BrowserSignIn {
    const callbackOrigin = new URL(callbackUrl).origin;
    return {
        redirectUri: callbackUrl,
        responseMode: "fragment",
        open(url) {
            return new Promise<URLSearchParams>((resolve, reject) => {
                const finish = (outcome: () => void) => {
                    window.removeEventListener("message", onMessage);
                    clearInterval(watch);
                    clearTimeout(timer);
                    outcome();
                };
                const onMessage = (event: MessageEvent) => {
                    if (event.origin !== callbackOrigin) return;
                    if (!signInWindow.isSource(event.source)) return;
                    const data = event.data as { type?: unknown; params?: unknown } | null;
                    if (data?.type !== CALLBACK_MESSAGE_TYPE || typeof data.params !== "string") return;
                    finish(() => resolve(new URLSearchParams(data.params as string)));
                    signInWindow.close();
                };
                // A closed popup without an answer: the person gave up (or the browser closed it).
                const watch = setInterval(() => {
                    if (signInWindow.isClosed()) {
                        finish(() =>
                            reject(
                                new SignInError(
                                    "popup-closed",
                                    "The sign-in window was closed early; nothing was signed in. Try again when you are ready.",
                                ),
                            ),
                        );
                    }
                }, 500);
                const timer = setTimeout(() => {
                    signInWindow.close();
                    finish(() =>
                        reject(
                            new SignInError(
                                "sign-in-timeout",
                                "Signing in took too long; the sign-in window was closed. Try again.",
                            ),
                        ),
                    );
                }, WAIT_MS);
                window.addEventListener("message", onMessage);
                signInWindow.navigate(url);
            });
        },
    };
}
