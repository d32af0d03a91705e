/**
 * The callback page's script (dist/module/callback.js, loaded by callback.html). The new account's server sends the
 * sign-in popup here with a `loginToken` (single sign-on) or an OAuth 2.0 `code` and `state`. The popup has no opener
 * (signInWindow.ts cuts it off), so the parameters go to the waiting page over a `BroadcastChannel` of this origin —
 * only pages of this origin hear it, and only the one whose sign-in has that `state` takes them. They are removed from
 * this window's address, and it closes. Nothing is stored.
 */
import { CALLBACK_MESSAGE_TYPE } from "./callbackMessage.ts";

const params = new URLSearchParams(window.location.search);
for (const [key, value] of new URLSearchParams(window.location.hash.replace(/^#/, ""))) params.set(key, value);
window.history.replaceState(null, "", window.location.pathname);

const status = document.getElementById("status");
if (params.has("state")) {
    const channel = new BroadcastChannel(CALLBACK_MESSAGE_TYPE);
    channel.postMessage({ type: CALLBACK_MESSAGE_TYPE, params: params.toString() });
    channel.close();
    if (status) status.textContent = "Done — this window closes itself.";
    window.close();
} else if (status) {
    status.textContent =
        "This page finishes a sign-in started from the account migration page; it was opened on its own, so it does nothing.";
}
