import { retryingFetch } from "./transientRetry.ts";

/** A fetch that answers (or fails) as scripted, one entry per call, and records each call's method. */
function scripted(script: Array<Response | Error>) {
    const calls: string[] = [];
    const fetchFn = (async (_input: string | URL | Request, init?: RequestInit) => {
        calls.push(init?.method ?? "GET");
        const next = script[calls.length - 1] ?? new Response("{}", { status: 200 });
        if (!(next instanceof Response)) throw next;
        return next;
    }) as typeof fetch;
    return { fetchFn, calls };
}

const status = (code: number, body: unknown = {}, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status: code, headers });

function setUp(script: Array<Response | Error>, options: { active?: () => boolean } = {}) {
    const { fetchFn, calls } = scripted(script);
    const waits: number[] = [];
    const retrying = retryingFetch(fetchFn, { ...options, sleep: async (ms) => void waits.push(ms) });
    return { retrying, calls, waits };
}

test("a read that meets a lost connection and server errors is tried again, waiting 1 s, 2 s, 4 s", async () => {
    const { retrying, calls, waits } = setUp([
        new TypeError("fetch failed"),
        status(502),
        status(503),
        status(200, { ok: true }),
    ]);
    const response = await retrying("https://hs.example/_matrix/client/versions");
    expect(await response.json()).toEqual({ ok: true });
    expect(calls).toHaveLength(4);
    expect(waits).toEqual([1000, 2000, 4000]);
});

test("a 429 is waited out as long as the server asks (Retry-After, else retry_after_ms)", async () => {
    const { retrying, waits } = setUp([
        status(429, {}, { "Retry-After": "3" }),
        status(429, { retry_after_ms: 1500 }),
        status(200),
    ]);
    expect((await retrying("https://hs.example/x")).status).toBe(200);
    expect(waits).toEqual([3000, 1500]);
});

test("after the last attempt the failure is handed on as it came", async () => {
    const { retrying, calls } = setUp([
        status(500),
        status(500),
        status(500),
        status(500),
        status(500, { errcode: "M_UNKNOWN" }),
    ]);
    const response = await retrying("https://hs.example/x");
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ errcode: "M_UNKNOWN" });
    expect(calls).toHaveLength(5);
});

test("only reads are repeated: a POST whose answer was lost may have happened", async () => {
    const { retrying, calls } = setUp([status(502)]);
    expect((await retrying("https://hs.example/login", { method: "POST", body: "{}" })).status).toBe(502);
    expect(calls).toEqual(["POST"]);
});

test("an answer that is not transient (404, 403) is handed on at once", async () => {
    const { retrying, calls } = setUp([status(404)]);
    expect((await retrying("https://hs.example/x")).status).toBe(404);
    expect(calls).toHaveLength(1);
});

test("a refused connection or an unknown name is said at once (most likely a wrong address)", async () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const { retrying, calls } = setUp([refused]);
    await expect(retrying("https://hs.example/x")).rejects.toBe(refused);
    expect(calls).toHaveLength(1);
});

test("a port fetch refuses to use (e.g. 1) is said at once", async () => {
    const badPort = Object.assign(new TypeError("fetch failed"), { cause: new Error("bad port") });
    const { retrying, calls } = setUp([badPort]);
    await expect(retrying("http://127.0.0.1:1/x")).rejects.toBe(badPort);
    expect(calls).toHaveLength(1);
});

test("a timeout or cancellation is not retried", async () => {
    const controller = new AbortController();
    controller.abort();
    const aborted = new DOMException("aborted", "AbortError");
    const { retrying, calls } = setUp([aborted]);
    await expect(retrying("https://hs.example/x", { signal: controller.signal })).rejects.toBe(aborted);
    expect(calls).toHaveLength(1);
});

test("nothing is repeated once it is switched off (the scheduler paces the run itself)", async () => {
    let active = true;
    const { retrying, calls } = setUp([status(503), status(200), status(503)], { active: () => active });
    expect((await retrying("https://hs.example/x")).status).toBe(200);
    active = false;
    expect((await retrying("https://hs.example/x")).status).toBe(503);
    expect(calls).toHaveLength(3);
});
