import { aclAllowsServer, hostOf, matchGlob } from "./serverAcl.ts";

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

/** The spec's globs by the textbook table (O(len(glob) · len(name)), no shortcut): the reference to compare with. */
function globReference(glob: string, name: string): boolean {
    const g = glob.toLowerCase();
    const n = name.toLowerCase();
    // row[j]: does the glob so far match the first j characters of the name?
    let row = Array.from({ length: n.length + 1 }, (_, j) => j === 0);
    for (const c of g) {
        const next = Array.from({ length: n.length + 1 }, () => false);
        for (let j = 0; j <= n.length; j++) {
            if (c === "*") next[j] = row[j]! || (j > 0 && next[j - 1]!);
            else next[j] = j > 0 && row[j - 1]! && (c === "?" || c === n[j - 1]);
        }
        row = next;
    }
    return row[n.length]!;
}

/** The bound matchGlob promises: 2·len(glob) + 1 + len(name) + (len(name) + 1) · k, k its characters but `*`. */
const stepBound = (glob: string, name: string) => {
    const k = glob.replace(/\*/g, "").length;
    return 2 * glob.length + 1 + name.length + (name.length + 1) * (k > name.length ? 0 : k);
};

describe("glob matching (only * and ?), bounded whatever a room admin writes", () => {
    test.each([
        ["", "", true],
        ["", "a", false],
        ["*", "", true],
        ["**", "abc", true],
        ["?", "", false],
        ["a*", "a", true],
        ["*a", "ba", true],
        ["*a", "ab", false],
        ["a*b*c", "abc", true],
        ["a*b*c", "axxbyyc", true],
        ["a*b*c", "acb", false],
        ["*ab*ab*", "abab", true],
        ["*ab*ab*", "aba", false],
        ["*aa", "aaa", true],
        ["a*a", "a", false],
        ["?*?", "ab", true],
        ["?*?", "a", false],
        ["*.example.org", "matrix.example.org", true],
        ["*.example.org", "example.org", false],
    ])("%j against %j: %s", (glob, name, expected) => {
        const { matched, steps } = matchGlob(glob, name);
        expect(matched).toBe(expected);
        expect(matched).toBe(globReference(glob, name));
        expect(steps).toBeLessThanOrEqual(stepBound(glob, name));
    });

    test("agrees with the reference on 20,000 random globs and names, within the step bound", () => {
        let seed = 15;
        const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        const pick = (alphabet: string, max: number) =>
            Array.from({ length: Math.floor(random() * (max + 1)) }, () =>
                alphabet.charAt(Math.floor(random() * alphabet.length)),
            ).join("");
        const wrong: Array<{ glob: string; name: string; matched: boolean; steps: number }> = [];
        for (let i = 0; i < 20_000; i++) {
            const glob = pick("aAb.*?", 10);
            const name = pick("aAb.", 10);
            const { matched, steps } = matchGlob(glob, name);
            if (matched !== globReference(glob, name) || steps > stepBound(glob, name))
                wrong.push({ glob, name, matched, steps });
        }
        expect(wrong).toEqual([]);
    });

    test("server names are compared case-insensitively (ASCII, as their grammar is)", () => {
        expect(matchGlob("*.EXAMPLE.org", "Matrix.example.ORG").matched).toBe(true);
        expect(aclAllowsServer({ allow: ["*"], deny: ["Evil.Example"] }, "evil.example:8448")).toBe(false);
        expect(aclAllowsServer({ allow: ["HS?.example.org"] }, "hs1.EXAMPLE.org")).toBe(true);
    });

    // The two globs of issue 15: "*" × 40 then "!" took 29 s as a RegExp against "127.0.0.1"; `*a*a…*b` is the same
    // trap for a name full of a's. Here against the longest name the spec allows (255 characters).
    const hostile = ["*".repeat(40) + "!", "*a".repeat(200) + "*b", "*?".repeat(255) + "!"];
    const longName = "a".repeat(255);

    test.each(hostile.map((g) => [g.length, g] as const))(
        "a backtracking glob (%d characters) matches in bounded steps",
        (_length, glob) => {
            for (const name of ["127.0.0.1", "localhost", longName, `${"a".repeat(250)}.org`]) {
                const { matched, steps } = matchGlob(glob, name);
                expect(matched).toBe(false);
                expect(steps).toBeLessThanOrEqual(stepBound(glob, name));
                // In plain numbers: well under one comparison per pair of characters, whatever the glob.
                expect(steps).toBeLessThanOrEqual(2 * glob.length + (name.length + 1) ** 2 + 1);
            }
        },
    );

    test("a glob of 64 KiB of stars costs a few steps per character", () => {
        const glob = "*".repeat(65_536) + "!";
        const { matched, steps } = matchGlob(glob, longName);
        expect(matched).toBe(false);
        expect(steps).toBeLessThanOrEqual(2 * glob.length + 2 * longName.length + 2);
        expect(matchGlob("*".repeat(65_536) + "a", longName).matched).toBe(true);
    });

    test("a room with the hostile globs in its deny list still allows the servers they do not name", () => {
        const acl = { allow: ["*"], deny: hostile, allow_ip_literals: true };
        expect(aclAllowsServer(acl, "127.0.0.1:8492")).toBe(true);
        expect(aclAllowsServer(acl, `${longName}:8448`)).toBe(true);
        expect(aclAllowsServer({ allow: ["*"], deny: [...hostile, "*b"] }, `${"a".repeat(200)}b`)).toBe(false);
        // And in the allow list they allow nothing they do not match.
        expect(aclAllowsServer({ allow: hostile }, "127.0.0.1")).toBe(false);
        expect(aclAllowsServer({ allow: [...hostile, "*?"] }, longName)).toBe(true);
    });
});
