/**
 * Single sign-on and OAuth 2.0 for the CLI: a one-shot HTTP server on the loopback interface receives the browser's
 * redirect (RFC 8252), while the CLI prints the page to open on stderr (and opens a browser when it can). The result
 * (a login token or an authorization code) never reaches the terminal.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";

import type { BrowserSignIn, DeviceGrantPrompt } from "../sessions/oauth.ts";
import { checkServerUrl } from "../sessions/serverUrl.ts";
import { SignInError } from "../sessions/signInError.ts";
import { terminalSafe } from "./terminalText.ts";

export const SIGN_IN_WAIT_MS = 10 * 60_000;

export interface LoopbackBrowser extends BrowserSignIn {
    close(): Promise<void>;
}

/**
 * The environment the browser starts with: this process's, without the `MIGRATE_*` variables — the secrets (tokens,
 * passwords, recovery keys, the key file's passphrase) are not the browser's, nor any helper it starts.
 */
export function browserEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(env).filter(([name]) => !/^MIGRATE_/i.test(name)));
}

/** The command that opens a URL in the system browser here. */
export function browserCommand(): string {
    return process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
}

/** Opens the system browser when a person is at this terminal; failure is fine (the URL is printed). */
function openSystemBrowser(url: string): void {
    if (!process.stdout.isTTY || process.env.CI) return;
    try {
        spawn(browserCommand(), [url], { stdio: "ignore", detached: true, env: browserEnvironment() })
            .on("error", () => undefined)
            .unref();
    } catch {
        // no browser here: the printed line is enough
    }
}

/**
 * Shows the server's page to the person: only an https (or loopback http) address, else a SignInError ("unsafe-url")
 * and nothing is printed or opened.
 */
export function showSignInUrl(err: NodeJS.WritableStream, url: string, what = "its sign-in page"): void {
    checkServerUrl(url, what);
    // The address comes from the server: shown with control characters neutralised.
    err.write(`Sign in at: ${terminalSafe(url)}\n`);
    openSystemBrowser(url);
}

export function showDeviceCode(err: NodeJS.WritableStream, prompt: DeviceGrantPrompt): void {
    checkServerUrl(prompt.verificationUri, "its approval page (verification_uri)");
    showSignInUrl(err, prompt.verificationUriComplete ?? prompt.verificationUri);
    err.write(
        `  (or open ${terminalSafe(prompt.verificationUri)} on any device and enter the code ${terminalSafe(prompt.userCode)}; it is valid for ${Math.round((prompt.expiresAt - Date.now()) / 60000)} min)\n`,
    );
}

export async function startLoopbackBrowser(
    err: NodeJS.WritableStream,
    waitMs = SIGN_IN_WAIT_MS,
): Promise<LoopbackBrowser> {
    let deliver: ((params: URLSearchParams) => void) | undefined;
    const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        if (url.pathname !== "/callback" || !deliver) {
            res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("Not found");
            return;
        }
        res.writeHead(200, {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        });
        res.end(
            "<!doctype html><meta charset=utf-8><title>Account migration</title><p>Done — you can close this tab and go back to the terminal.</p>",
        );
        deliver(url.searchParams);
        deliver = undefined;
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    return {
        redirectUri: `http://127.0.0.1:${port}/callback`,
        responseMode: "query",
        open(url) {
            return new Promise<URLSearchParams>((resolve, reject) => {
                const timer = setTimeout(() => {
                    deliver = undefined;
                    reject(
                        new SignInError(
                            "sign-in-timeout",
                            `No sign-in arrived within ${Math.round(waitMs / 60000)} minutes; nothing was changed. Run the command again to retry.`,
                        ),
                    );
                }, waitMs);
                deliver = (params) => {
                    clearTimeout(timer);
                    resolve(params);
                };
                try {
                    showSignInUrl(err, url);
                } catch (e) {
                    clearTimeout(timer);
                    deliver = undefined;
                    reject(e as Error);
                }
            });
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}
