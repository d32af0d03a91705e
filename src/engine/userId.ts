/** Matrix user ids (spec: "User Identifiers"), checked before anything reaches a server. */

export type ParsedUserId =
    { ok: true; userId: string; localpart: string; serverName: string } | { ok: false; error: string };

// Historical user ids may contain more characters than new ones; accept what servers still serve.
const LOCALPART = /^[\x21-\x39\x3B-\x7E]+$/;
// host: DNS name, IPv4 literal or [IPv6] literal; optional port.
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

export function parseUserId(input: string): ParsedUserId {
    const text = input.trim();
    if (!text.startsWith("@"))
        return { ok: false, error: `"${text}" is not a Matrix user id: it must start with @, like @you:example.org` };
    const colon = text.indexOf(":");
    if (colon < 0) return { ok: false, error: `"${text}" has no server: a Matrix user id looks like @you:example.org` };
    const localpart = text.slice(1, colon);
    const serverName = text.slice(colon + 1);
    if (!localpart || !LOCALPART.test(localpart))
        return { ok: false, error: `"${text}" has an invalid name before the colon` };
    if (!serverName || !SERVER_NAME.test(serverName))
        return { ok: false, error: `"${text}" has an invalid server name after the colon` };
    if (text.length > 255) return { ok: false, error: "A Matrix user id is at most 255 characters long" };
    return { ok: true, userId: `@${localpart}:${serverName}`, localpart, serverName };
}

export function serverNameOf(userId: string): string {
    return userId.slice(userId.indexOf(":") + 1);
}
