/**
 * Hand-written: a dozen lines of policy on top of fetch, which no library here offers in this shape.
 *
 * Tries a request again when the network or the server failed it transiently — a connection lost or reset,
 * 500/502/503/504, or 429 (waiting as asked). For the steps before a migration starts (discovery, sign-in checks, key preparation,
 * the /sync snapshot), which the engine's scheduler does not pace. Only reads (GET/HEAD) are repeated: a POST whose
 * answer was lost may have happened (a sign-in would leave a session nobody can sign out).
 */

import { ERROR_BODY_LIMIT, readCapped } from "./matrixHttp.ts";

export interface RetryOptions {
    /** Attempts in all (default 5). */
    attempts?: number;
    /** Retries happen only while this says so (the CLI turns it off once the scheduler takes over). */
    active?: () => boolean;
    sleep?: (ms: number) => Promise<void>;
}

const TRANSIENT = new Set([500, 502, 503, 504]);
/** The longest wait a 429 may ask for here; past it, the answer is handed on and the caller decides. */
const MAX_RATE_LIMIT_WAIT_MS = 60_000;

async function retryAfterMs(response: Response): Promise<number | undefined> {
    const header = Number(response.headers.get("Retry-After"));
    if (Number.isFinite(header) && header >= 0 && response.headers.has("Retry-After")) return header * 1000;
    const body = (await readCapped(response.clone(), ERROR_BODY_LIMIT)
        .then((text) => JSON.parse(text) as unknown)
        .catch(() => undefined)) as { retry_after_ms?: unknown } | undefined;
    return typeof body?.retry_after_ms === "number" ? body.retry_after_ms : undefined;
}

export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): typeof fetch {
    const attempts = options.attempts ?? 5;
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    return async (input, init) => {
        const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
        if ((method !== "GET" && method !== "HEAD") || !(options.active?.() ?? true)) return inner(input, init);
        for (let attempt = 1; ; attempt++) {
            const last = attempt >= attempts;
            let response: Response;
            try {
                response = await inner(input, init);
            } catch (e) {
                // A timeout or a cancellation is the caller's decision; nothing listening there, no such name, or a port
                // fetch refuses to use (e.g. 1) is most likely a wrong address (said at once), not a passing failure.
                const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
                const wrongAddress =
                    cause?.code === "ECONNREFUSED" || cause?.code === "ENOTFOUND" || cause?.message === "bad port";
                if (last || init?.signal?.aborted || wrongAddress) throw e;
                await sleep(1000 * 2 ** (attempt - 1));
                continue;
            }
            if (last) return response;
            if (TRANSIENT.has(response.status)) {
                await response.body?.cancel().catch(() => undefined);
                await sleep(1000 * 2 ** (attempt - 1));
                continue;
            }
            if (response.status === 429) {
                const wait = (await retryAfterMs(response)) ?? 1000 * 2 ** (attempt - 1);
                if (wait > MAX_RATE_LIMIT_WAIT_MS) return response;
                await response.body?.cancel().catch(() => undefined);
                await sleep(wait);
                continue;
            }
            return response;
        }
    };
}
