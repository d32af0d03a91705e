/**
 * The one check of server-chosen addresses (issue 15.1) and the fetch that follows redirects only to such addresses
 * (issue 15.2). The rules are pure logic; the redirect tests use a fetch that answers from a table, so an https server
 * that sends the request on to http can be played without certificates, and every address asked for is recorded.
 */
import { checkServerUrl, checkedRedirects, isLoopbackHost, isSafeServerUrl } from "./serverUrl.ts";

test("issue 15.1: https, and http on loopback (localhost, 127.0.0.0/8, ::1), are accepted", () => {
    for (const ok of [
        "https://auth.example.org/authorize?x=1",
        "http://localhost:8008/",
        "http://127.0.0.1:9/x",
        "http://127.4.5.6/",
        "http://[::1]:8080/",
        "HTTPS://Example.ORG/",
    ])
        expect({ ok, safe: isSafeServerUrl(ok) }).toEqual({ ok, safe: true });
});

test("issue 15.1: javascript:, data:, file:, custom schemes, http across the network and credentials in the address are refused", () => {
    for (const bad of [
        "javascript:window.opener.document.title='pwned'",
        " javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "element://vector/webapp/",
        "vbscript:msgbox",
        "blob:https://example.org/1234",
        "about:blank",
        "http://matrix.example.org/",
        "http://192.0.2.1/",
        "http://0.0.0.0:8008/",
        "http://evil.localhost/",
        "http://localhost.evil.example/",
        "https://user:pass@example.org/",
        "//example.org/x",
        "/relative",
        "",
        42,
        undefined,
    ])
        expect({ bad, safe: isSafeServerUrl(bad) }).toEqual({ bad, safe: false });
});

test("issue 15.2: *.localhost names are not loopback (they are resolved like any name); localhost itself is", () => {
    expect(isLoopbackHost("localhost")).toBe(true);
    expect(isLoopbackHost("LOCALHOST")).toBe(true);
    expect(isLoopbackHost("[::1]")).toBe(true);
    expect(isLoopbackHost("evil.localhost")).toBe(false);
    expect(isLoopbackHost("matrix.localhost")).toBe(false);
});

test("issue 15.1: a refused address is a clear SignInError naming what it was for, with control characters neutralised", () => {
    let error: unknown;
    try {
        checkServerUrl("javascript:alert(1)\u001b[2J", "its sign-in page");
    } catch (e) {
        error = e;
    }
    expect(error).toMatchObject({
        name: "SignInError",
        code: "unsafe-url",
        message: expect.stringMatching(
            /^The server gave an address for its sign-in page that this tool will not open: “javascript:alert\(1\)\?\[2J”\. .*Nothing was opened or signed in\.$/,
        ),
    });
    expect(checkServerUrl("https://example.org/x", "x")).toBe("https://example.org/x");
});

/** A fetch from a table: URL → [status, Location?]; records every request (URL, method, Authorization). */
function redirectTable(table: Record<string, [number, string?]>) {
    const asked: Array<{ url: string; method: string; auth: string | null; redirect?: string }> = [];
    const fetchFn: typeof fetch = async (input, init) => {
        const url = String(input);
        asked.push({
            url,
            method: init?.method ?? "GET",
            auth: new Headers(init?.headers).get("Authorization"),
            redirect: init?.redirect,
        });
        const [status, location] = table[url] ?? [404];
        return new Response(status === 200 ? "{}" : null, {
            status,
            headers: location ? { Location: location } : {},
        });
    };
    return { fetchFn, asked };
}

test("issue 15.2: a redirect from https to http is not followed — nothing is sent to the http address", async () => {
    const { fetchFn, asked } = redirectTable({
        "https://hs.example/_matrix/client/versions": [302, "http://127.0.0.1:1/_matrix/client/versions"],
    });
    await expect(checkedRedirects(fetchFn)("https://hs.example/_matrix/client/versions")).rejects.toMatchObject({
        name: "RefusedRedirectError",
        message: expect.stringMatching(/https:\/\/hs\.example redirected to http:\/\/127\.0\.0\.1:1\/.* not followed/),
    });
    expect(asked.map((a) => a.url)).toEqual(["https://hs.example/_matrix/client/versions"]);
    // Node's own following is off: each hop is judged here first.
    expect(asked[0]!.redirect).toBe("manual");
});

test("issue 15.2: redirects to http across the network, to javascript: or to a custom scheme are not followed", async () => {
    for (const target of ["http://evil.example/x", "http://evil.localhost:8008/", "javascript:alert(1)", "ftp://x/"]) {
        const { fetchFn, asked } = redirectTable({ "http://127.0.0.1:8008/a": [307, target] });
        await expect(checkedRedirects(fetchFn)("http://127.0.0.1:8008/a")).rejects.toMatchObject({
            name: "RefusedRedirectError",
        });
        expect(asked).toHaveLength(1);
    }
});

test("issue 15.2: a redirect to a checked address is followed (https → https, loopback http → loopback http), the token only within one origin", async () => {
    const { fetchFn, asked } = redirectTable({
        "https://a.example/x": [301, "/y"],
        "https://a.example/y": [308, "https://b.example/z"],
        "https://b.example/z": [200],
    });
    const response = await checkedRedirects(fetchFn)("https://a.example/x", {
        method: "PUT",
        headers: { Authorization: "Bearer secret" },
        body: "{}",
    });
    expect(response.status).toBe(200);
    expect(asked.map((a) => [a.url, a.method, a.auth])).toEqual([
        ["https://a.example/x", "PUT", "Bearer secret"],
        ["https://a.example/y", "PUT", "Bearer secret"],
        ["https://b.example/z", "PUT", null],
    ]);

    const local = redirectTable({
        "http://localhost:1/a": [303, "http://127.0.0.1:2/b"],
        "http://127.0.0.1:2/b": [200],
    });
    const r = await checkedRedirects(local.fetchFn)("http://localhost:1/a", { method: "POST", body: "x" });
    expect(r.status).toBe(200);
    expect(local.asked.map((a) => [a.url, a.method])).toEqual([
        ["http://localhost:1/a", "POST"],
        ["http://127.0.0.1:2/b", "GET"],
    ]);
});

test("issue 15.2: a redirect loop ends", async () => {
    const { fetchFn, asked } = redirectTable({ "https://a.example/x": [302, "https://a.example/x"] });
    await expect(checkedRedirects(fetchFn)("https://a.example/x")).rejects.toThrow(/too many redirects/);
    expect(asked.length).toBeLessThanOrEqual(6);
});
