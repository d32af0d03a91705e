/** Server ACLs (spec: "m.room.server_acl"): would this room let a server take part? */

/**
 * Any room admin writes these globs, so matching must stay cheap whatever they are: a RegExp built from one
 * (`.*` per `*`) backtracks exponentially — `"*"` × 40 then `"!"` took 29 s against one server name. This matcher
 * takes at most 2·len(glob) + 1 + len(name) + (len(name) + 1) · k steps, k the glob's characters other than `*`;
 * a glob with k > len(name) cannot match and is refused before any comparison: O(len(glob) + len(name)²).
 * Server names are ASCII (the spec's grammar) and compared case-insensitively, as Synapse does.
 */
export function matchGlob(glob: string, name: string): { matched: boolean; steps: number } {
    let steps = 0;
    const g = asciiLower(glob);
    const n = asciiLower(name);
    steps += g.length + n.length;
    // The parts between stars; each matches a fixed number of characters (`?` is any one of them).
    const parts = g.split("*");
    steps += parts.length;
    const fixed = parts.reduce((sum, p) => sum + p.length, 0);
    if (fixed > n.length) return { matched: false, steps };
    // Compares a part with the name at `at` (the caller keeps it within the name).
    const partAt = (part: string, at: number): boolean => {
        for (let i = 0; i < part.length; i++) {
            steps++;
            if (part[i] !== "?" && part[i] !== n[at + i]) return false;
        }
        return true;
    };
    if (parts.length === 1) return { matched: g.length === n.length && partAt(g, 0), steps };
    // Anchored at both ends: the part before the first star, and the part after the last one.
    const first = parts[0]!;
    const last = parts[parts.length - 1]!;
    if (!partAt(first, 0) || !partAt(last, n.length - last.length)) return { matched: false, steps };
    // Each part in between at its leftmost place after the previous one: that leaves the most room for the rest, so
    // if any placement matches this one does; no choice is ever revisited.
    let from = first.length;
    const end = n.length - last.length;
    for (let p = 1; p < parts.length - 1; p++) {
        const part = parts[p]!;
        if (!part) continue;
        let at = from;
        while (at + part.length <= end && !partAt(part, at)) at++;
        if (at + part.length > end) return { matched: false, steps };
        from = at + part.length;
    }
    return { matched: true, steps };
}

const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

/** The host part of a server name: ACLs ignore the port. */
export function hostOf(serverName: string): string {
    if (serverName.startsWith("[")) return serverName.slice(0, serverName.indexOf("]") + 1);
    const colon = serverName.lastIndexOf(":");
    return colon > 0 ? serverName.slice(0, colon) : serverName;
}

function isIpLiteral(host: string): boolean {
    return host.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** The whole ACL costs O(its size × the host's length) steps (see `matchGlob`); servers keep an event under 64 KiB. */
export function aclAllowsServer(acl: Record<string, unknown> | undefined, serverName: string): boolean {
    if (!acl) return true;
    const host = hostOf(serverName);
    const list = (key: string) =>
        Array.isArray(acl[key]) ? (acl[key] as unknown[]).filter((x): x is string => typeof x === "string") : [];
    const allowIpLiterals = acl.allow_ip_literals !== false;
    if (!allowIpLiterals && isIpLiteral(host)) return false;
    if (list("deny").some((g) => matchGlob(g, host).matched)) return false;
    return list("allow").some((g) => matchGlob(g, host).matched);
}
