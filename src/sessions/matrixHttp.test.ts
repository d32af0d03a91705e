import { MatrixHttp, MatrixRequestError, encodeQuery, isMatrixRequestError } from "./matrixHttp.ts";

/** A MatrixHttp whose server answers every request with `response()`, and which records the requests. */
function serverAnswering(response: () => Response) {
    const requests: Array<{ url: string; init: RequestInit }> = [];
    const fetchFn = (async (url: string | URL | Request, init?: RequestInit) => {
        requests.push({ url: String(url), init: init ?? {} });
        return response();
    }) as typeof fetch;
    return { http: new MatrixHttp("https://hs.example/", "secret-token", fetchFn), requests };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

async function errorOf(promise: Promise<unknown>): Promise<MatrixRequestError> {
    const e = await promise.then(
        () => undefined,
        (error: unknown) => error,
    );
    if (!isMatrixRequestError(e)) throw new Error(`expected a MatrixRequestError, got ${String(e)}`);
    return e;
}

describe("rate-limit errors (429)", () => {
    const limitExceeded = { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: 9000 };

    test("Retry-After in seconds wins over the body's retry_after_ms", async () => {
        const { http } = serverAnswering(() => json(429, limitExceeded, { "Retry-After": "2" }));
        const e = await errorOf(http.request("POST", "/rooms/!r/invite", { body: {} }));
        expect(e.retryAfterMs).toBe(2000);
        expect(e.isRateLimited).toBe(true);
        expect(e.errcode).toBe("M_LIMIT_EXCEEDED");
    });

    test("where the body's retry_after_ms is the Retry-After before rounding up to whole seconds, the precise one is used", async () => {
        const { http } = serverAnswering(() =>
            json(429, { ...limitExceeded, retry_after_ms: 6123 }, { "Retry-After": "7" }),
        );
        expect((await errorOf(http.request("GET", "/x"))).retryAfterMs).toBe(6123);
    });

    test("without Retry-After, the body's retry_after_ms is used", async () => {
        const { http } = serverAnswering(() => json(429, limitExceeded));
        expect((await errorOf(http.request("GET", "/x"))).retryAfterMs).toBe(9000);
    });

    test("Retry-After as an HTTP date means the time until that date", async () => {
        const in2Minutes = new Date(Date.now() + 120_000).toUTCString();
        const { http } = serverAnswering(() =>
            json(429, { errcode: "M_LIMIT_EXCEEDED" }, { "Retry-After": in2Minutes }),
        );
        const wait = (await errorOf(http.request("GET", "/x"))).retryAfterMs;
        // HTTP dates have whole seconds.
        expect(wait).toBeGreaterThan(118_000);
        expect(wait).toBeLessThanOrEqual(120_000);
    });

    test("an HTTP date in the past means no wait; an unreadable Retry-After falls back to retry_after_ms", async () => {
        const past = new Date(Date.now() - 60_000).toUTCString();
        const { http: pastHttp } = serverAnswering(() => json(429, limitExceeded, { "Retry-After": past }));
        expect((await errorOf(pastHttp.request("GET", "/x"))).retryAfterMs).toBe(0);
        const { http: garbled } = serverAnswering(() => json(429, limitExceeded, { "Retry-After": "soon" }));
        expect((await errorOf(garbled.request("GET", "/x"))).retryAfterMs).toBe(9000);
    });

    test("no Retry-After and no retry_after_ms leave the wait to the caller", async () => {
        const { http } = serverAnswering(() => json(429, { errcode: "M_LIMIT_EXCEEDED" }));
        expect((await errorOf(http.request("GET", "/x"))).retryAfterMs).toBeUndefined();
    });

    test("M_LIMIT_EXCEEDED counts as rate-limited whatever the status; other errors do not", async () => {
        const { http } = serverAnswering(() => json(400, { errcode: "M_LIMIT_EXCEEDED", error: "slow down" }));
        expect((await errorOf(http.request("GET", "/x"))).isRateLimited).toBe(true);
        const { http: forbidden } = serverAnswering(() =>
            json(403, { errcode: "M_FORBIDDEN", error: "You are not invited" }),
        );
        const e = await errorOf(forbidden.request("POST", "/join/!r"));
        expect(e.isRateLimited).toBe(false);
        expect(e).toMatchObject({
            httpStatus: 403,
            errcode: "M_FORBIDDEN",
            serverMessage: "You are not invited",
            method: "POST",
            path: "/join/!r",
        });
    });
});

describe("other failures", () => {
    test("a server that cannot be reached gives status 0 and says so", async () => {
        const http = new MatrixHttp("https://hs.example", undefined, (async () => {
            throw new TypeError("fetch failed");
        }) as typeof fetch);
        const e = await errorOf(http.request("GET", "/versions"));
        expect(e.httpStatus).toBe(0);
        expect(e.message).toBe("GET /versions: could not reach the server (fetch failed)");
    });

    test("an error page that is not JSON keeps its text as the message, with no errcode", async () => {
        const { http } = serverAnswering(
            () => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }),
        );
        const e = await errorOf(http.request("POST", "/rooms/!r/invite"));
        expect(e).toMatchObject({
            httpStatus: 502,
            errcode: undefined,
            serverMessage: "<html>Bad Gateway</html>",
            body: undefined,
        });
    });

    test("a successful answer that is not JSON is an error", async () => {
        const { http } = serverAnswering(() => new Response("not json", { status: 200 }));
        const e = await errorOf(http.request("GET", "/x"));
        expect(e.serverMessage).toContain("not JSON");
    });

    test("errors are recognised by name, so copies from another bundle count", () => {
        expect(isMatrixRequestError({ name: "MatrixRequestError", httpStatus: 429 })).toBe(true);
        expect(isMatrixRequestError(new Error("MatrixRequestError"))).toBe(false);
        expect(isMatrixRequestError(null)).toBe(false);
    });
});

describe("requests", () => {
    test("the URL has the v3 prefix and the query; the token and a JSON body are sent", async () => {
        const { http, requests } = serverAnswering(() => json(200, { ok: true }));
        await expect(
            http.request("PUT", "/rooms/%21r/state/m.room.name/", {
                body: { name: "x" },
                query: { a: 1, skip: undefined },
            }),
        ).resolves.toEqual({ ok: true });
        expect(requests[0].url).toBe("https://hs.example/_matrix/client/v3/rooms/%21r/state/m.room.name/?a=1");
        expect(requests[0].init.headers).toMatchObject({
            "Authorization": "Bearer secret-token",
            "Content-Type": "application/json",
        });
        expect(requests[0].init.body).toBe('{"name":"x"}');
    });

    test("query arrays repeat the key (as `via` needs)", () => {
        expect(encodeQuery({ via: ["a.example", "b.example"], server_name: undefined })).toBe(
            "?via=a.example&via=b.example",
        );
        expect(encodeQuery({})).toBe("");
    });
});

test("issue 15.2: a homeserver answering with a redirect from https to http gets nothing sent there — not the request, not the token", async () => {
    const { http, requests } = serverAnswering(
        () =>
            new Response(null, {
                status: 307,
                headers: { Location: "http://127.0.0.1:1/_matrix/client/v3/account/whoami" },
            }),
    );
    const e = await errorOf(http.request("GET", "/account/whoami"));
    expect(e.httpStatus).toBe(0);
    expect(e.message).toMatch(/redirected to http:\/\/127\.0\.0\.1:1\/.*which is not followed/);
    expect(requests.map((r) => r.url)).toEqual(["https://hs.example/_matrix/client/v3/account/whoami"]);
});
