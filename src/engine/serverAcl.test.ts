import { aclAllowsServer, hostOf } from "./serverAcl.ts";

describe("server name host (ACLs ignore the port)", () => {
    test.each([
        ["example.org", "example.org"],
        ["example.org:8448", "example.org"],
        ["127.0.0.1:8492", "127.0.0.1"],
        ["[::1]", "[::1]"],
        ["[::1]:8448", "[::1]"],
        ["[2001:db8::1]:443", "[2001:db8::1]"],
    ])("the host of %s is %s", (serverName, host) => {
        expect(hostOf(serverName)).toBe(host);
    });
});

describe("m.room.server_acl", () => {
    test("a room without a server ACL allows every server", () => {
        expect(aclAllowsServer(undefined, "anything.example")).toBe(true);
    });

    test("an ACL without an allow list (or with an empty one) allows no server", () => {
        expect(aclAllowsServer({ deny: [] }, "example.org")).toBe(false);
        expect(aclAllowsServer({ allow: [] }, "example.org")).toBe(false);
    });

    test("* allows every server", () => {
        expect(aclAllowsServer({ allow: ["*"] }, "example.org")).toBe(true);
    });

    test("*.example.org allows subdomains only, not example.org itself nor lookalikes", () => {
        const acl = { allow: ["*.example.org"] };
        expect(aclAllowsServer(acl, "matrix.example.org")).toBe(true);
        expect(aclAllowsServer(acl, "a.b.example.org")).toBe(true);
        expect(aclAllowsServer(acl, "example.org")).toBe(false);
        expect(aclAllowsServer(acl, "evilexample.org")).toBe(false);
    });

    test("? matches exactly one character", () => {
        const acl = { allow: ["hs?.example.org"] };
        expect(aclAllowsServer(acl, "hs1.example.org")).toBe(true);
        expect(aclAllowsServer(acl, "hs.example.org")).toBe(false);
        expect(aclAllowsServer(acl, "hs12.example.org")).toBe(false);
    });

    test("other characters in a glob are literal (a dot is a dot, + is +)", () => {
        expect(aclAllowsServer({ allow: ["a.b"] }, "axb")).toBe(false);
        expect(aclAllowsServer({ allow: ["a+.org"] }, "aa.org")).toBe(false);
        expect(aclAllowsServer({ allow: ["a+.org"] }, "a+.org")).toBe(true);
    });

    test("deny wins over allow", () => {
        const acl = { allow: ["*"], deny: ["evil.example", "*.evil.example"] };
        expect(aclAllowsServer(acl, "evil.example")).toBe(false);
        expect(aclAllowsServer(acl, "hs.evil.example")).toBe(false);
        expect(aclAllowsServer(acl, "good.example")).toBe(true);
    });

    test("the port of the server name is ignored, for allow and for deny", () => {
        expect(aclAllowsServer({ allow: ["example.org"] }, "example.org:8448")).toBe(true);
        expect(aclAllowsServer({ allow: ["*"], deny: ["localhost"] }, "localhost:8491")).toBe(false);
    });

    test("allow_ip_literals false denies IPv4 and IPv6 literal servers, even when * allows them", () => {
        const acl = { allow: ["*"], allow_ip_literals: false };
        expect(aclAllowsServer(acl, "127.0.0.1:8492")).toBe(false);
        expect(aclAllowsServer(acl, "[::1]:8448")).toBe(false);
        expect(aclAllowsServer(acl, "localhost:8491")).toBe(true);
    });

    test("IP literals are allowed unless allow_ip_literals is false", () => {
        expect(aclAllowsServer({ allow: ["*"] }, "127.0.0.1:8492")).toBe(true);
        expect(aclAllowsServer({ allow: ["*"], allow_ip_literals: true }, "[::1]")).toBe(true);
    });

    test("non-string entries in the lists are ignored", () => {
        expect(aclAllowsServer({ allow: [42, null, "example.org"] }, "example.org")).toBe(true);
        expect(aclAllowsServer({ allow: ["*"], deny: [{}, 1] }, "example.org")).toBe(true);
        expect(aclAllowsServer({ allow: "*" }, "example.org")).toBe(false);
    });
});
