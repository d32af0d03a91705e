import { parseUserId, serverNameOf } from "./userId.ts";

describe("Matrix user ids", () => {
    test.each([
        ["@alice:example.org", "alice", "example.org"],
        ["  @alice:example.org \n", "alice", "example.org"],
        ["@alice:example.org:8448", "alice", "example.org:8448"],
        ["@bob:127.0.0.1:8492", "bob", "127.0.0.1:8492"],
        ["@carol:[::1]:8448", "carol", "[::1]:8448"],
        ["@Legacy.User=1:example.org", "Legacy.User=1", "example.org"],
    ])("%j is a valid user id", (input, localpart, serverName) => {
        expect(parseUserId(input)).toEqual({ ok: true, userId: `@${localpart}:${serverName}`, localpart, serverName });
    });

    test.each([
        ["alice:example.org", /must start with @/],
        ["#room:example.org", /must start with @/],
        ["@alice", /has no server/],
        ["@:example.org", /invalid name before the colon/],
        ["@al ice:example.org", /invalid name before the colon/],
        ["@alice:", /invalid server name/],
        ["@alice:exa mple.org", /invalid server name/],
        ["@alice:example.org:port", /invalid server name/],
        ["@alice:example.org:123456", /invalid server name/],
        [`@${"a".repeat(250)}:example.org`, /at most 255 characters/],
    ])("%j is refused: %s", (input, problem) => {
        const parsed = parseUserId(input);
        expect(parsed.ok).toBe(false);
        if (!parsed.ok) expect(parsed.error).toMatch(problem);
    });

    test("the server name is everything after the first colon, port included", () => {
        expect(serverNameOf("@alice:example.org:8448")).toBe("example.org:8448");
        expect(serverNameOf("@carol:[::1]:8448")).toBe("[::1]:8448");
    });
});
