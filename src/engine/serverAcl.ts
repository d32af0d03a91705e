/** Server ACLs (spec: "m.room.server_acl"): would this room let a server take part? */

/**
 * Any room admin writes these globs, so matching must stay cheap whatever they are: a RegExp built from one
 * (`.*` per `*`) backtracks exponentially — `"*"` × 40 then `"!"` took 29 s against one server name. This matcher
 * takes at most 2·len(glob) + 1 + len(name) + (len(name) + 1) · k steps, k the glob's characters other than `*`;
 * a glob with k > len(name) cannot match and is refused before any comparison: O(len(glob) + len(name)²).
 * Server names are ASCII (the spec's grammar) and compared case-insensitively, as Synapse does.
 */
export function matchGlob(glob: string, name: string): { matched: boolean; steps: number } {
    // The glob is read where it lies (a room admin's may be 64 KiB): no lower-cased copy, no split.
    const n = asciiLower(name);
    let steps = glob.length + n.length;
    let fixed = 0;
    for (let i = 0; i < glob.length; i++) if (glob.charCodeAt(i) !== STAR) fixed++;
    if (fixed > n.length) return { matched: false, steps };
    // Compares glob[from, to) with the name at `at` (the caller keeps it within the name); `?` is any one character.
    const partAt = (from: number, to: number, at: number): boolean => {
        for (let i = from; i < to; i++) {
            steps++;
            const c = glob.charCodeAt(i);
            if (c !== QUESTION && foldAscii(c) !== n.charCodeAt(at + i - from)) return false;
        }
        return true;
    };
    const firstStar = glob.indexOf("*");
    if (firstStar < 0) return { matched: glob.length === n.length && partAt(0, glob.length, 0), steps };
    // Anchored at both ends: the part before the first star, and the part after the last one.
    const lastStar = glob.lastIndexOf("*");
    const lastLength = glob.length - lastStar - 1;
    if (!partAt(0, firstStar, 0) || !partAt(lastStar + 1, glob.length, n.length - lastLength))
        return { matched: false, steps };
    // Each part in between at its leftmost place after the previous one: that leaves the most room for the rest, so
    // if any placement matches this one does; no choice is ever revisited.
    let from = firstStar;
    const end = n.length - lastLength;
    steps += lastStar - firstStar; // reading the parts in between
    for (let i = firstStar + 1; i < lastStar; i++) {
        if (glob.charCodeAt(i) === STAR) continue;
        let next = i;
        while (glob.charCodeAt(next) !== STAR) next++;
        const length = next - i;
        let at = from;
        while (at + length <= end && !partAt(i, next, at)) at++;
        if (at + length > end) return { matched: false, steps };
        from = at + length;
        i = next;
    }
    return { matched: true, steps };
}

const STAR = 42;
const QUESTION = 63;
const foldAscii = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
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
