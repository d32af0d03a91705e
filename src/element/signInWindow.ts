/**
 * Sign-in popups for the new account. Element treats a `loginToken` or OAuth `code` in its own URL as its own login,
 * so the new account's single sign-on and OAuth 2.0 pages open in a popup whose redirect target is the module's small
 * callback page (dist/module/callback.html). The popup is cut off from Element before it shows anything: its `opener`
 * is set to null while it is still a blank page of Element's origin, so the server's pages get no handle on Element's
 * window (no script through it, no navigating Element away). The callback page, on Element's origin, hands its
 * parameters back over a `BroadcastChannel` — same-origin only by design — and the opener takes the one answer that
 * carries its attempt's `state`. Only a checked address (https, or http on loopback) is ever opened in the popup.
 */
import type { BrowserSignIn } from "../sessions/oauth.ts";
import { checkServerUrl } from "../sessions/serverUrl.ts";
import { SignInError } from "../sessions/signInError.ts";
import type { SignInWindow } from "../ui/runtime.ts";
import { CALLBACK_MESSAGE_TYPE } from "./callbackMessage.ts";
const WAIT_MS = 10 * 60_000;

/** Opens an empty popup, cut off from this window; call it synchronously in a click handler. Null when blocked. */
export function openSignInWindow(): SignInWindow | null {
    const popup = window.open("about:blank", "_blank", "popup,width=520,height=720");
    if (!popup) return null;
    // `noopener` would make window.open return null (no way to navigate or close it later); disowning it does the same
    // for the pages it will show.
    popup.opener = null;
    return {
        navigate: (url) => popup.location.replace(checkServerUrl(url, "its sign-in page")),
        isClosed: () => popup.closed,
        close: () => popup.close(),
    };
}

/** A BrowserSignIn over a popup: navigates it, and waits for the callback page's one answer (or its closing). */
export function popupBrowser(signInWindow: SignInWindow, callbackUrl: string): BrowserSignIn {
    return {
        redirectUri: callbackUrl,
        responseMode: "fragment",
        open(url, state) {
            return new Promise<URLSearchParams>((resolve, reject) => {
                const channel = new BroadcastChannel(CALLBACK_MESSAGE_TYPE);
                const finish = (outcome: () => void) => {
                    channel.close();
                    clearInterval(watch);
                    clearTimeout(timer);
                    outcome();
                };
                channel.onmessage = (event: MessageEvent) => {
                    const data = event.data as { type?: unknown; params?: unknown } | null;
                    if (data?.type !== CALLBACK_MESSAGE_TYPE || typeof data.params !== "string") return;
                    const params = new URLSearchParams(data.params);
                    // Another tab's sign-in (same origin, same channel) is not this one's answer.
                    if (params.get("state") !== state) return;
                    finish(() => resolve(params));
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
                try {
                    signInWindow.navigate(url);
                } catch (e) {
                    // Refused before anything was shown: the popup goes, nothing of that address ran.
                    signInWindow.close();
                    finish(() => reject(e as Error));
                }
            });
        },
    };
}
