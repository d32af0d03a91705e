/**
 * The callback page's script (dist/module/callback.js, loaded by callback.html). The new account's server sends the
 * sign-in popup here with a `loginToken` (single sign-on) or an OAuth 2.0 `code` and `state`. It passes them to the
 * page that opened the popup — only if that page is on this origin — removes them from this window's address, and
 * closes. Nothing is stored.
 */
import { CALLBACK_MESSAGE_TYPE } from "./callbackMessage.ts";

const params = new URLSearchParams(window.location.search);
for (const [key, value] of new URLSearchParams(window.location.hash.replace(/^#/, ""))) params.set(key, value);
window.history.replaceState(null, "", window.location.pathname);

const status = document.getElementById("status");
if (window.opener) {
    (window.opener as Window).postMessage(
        { type: CALLBACK_MESSAGE_TYPE, params: params.toString() },
        window.location.origin,
    );
    if (status) status.textContent = "Done — this window closes itself.";
    window.close();
} else if (status) {
    status.textContent =
        "This page finishes a sign-in started from the account migration page; it was opened on its own, so it does nothing.";
}
