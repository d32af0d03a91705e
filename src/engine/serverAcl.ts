/** Server ACLs (spec: "m.room.server_acl"): would this room let a server take part? */

function globToRegExp(glob: string): RegExp {
    const escaped = glob
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${escaped}$`, "i");
}

/** The host part of a server name: ACLs ignore the port. */
export function hostOf(serverName: string): string {
    if (serverName.startsWith("[")) return serverName.slice(0, serverName.indexOf("]") + 1);
    const colon = serverName.lastIndexOf(":");
    return colon > 0 ? serverName.slice(0, colon) : serverName;
}

function isIpLiteral(host: string): boolean {
    return host.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

export function aclAllowsServer(acl: Record<string, unknown> | undefined, serverName: string): boolean {
    if (!acl) return true;
    const host = hostOf(serverName);
    const list = (key: string) =>
        Array.isArray(acl[key]) ? (acl[key] as unknown[]).filter((x): x is string => typeof x === "string") : [];
    const allowIpLiterals = acl.allow_ip_literals !== false;
    if (!allowIpLiterals && isIpLiteral(host)) return false;
    if (list("deny").some((g) => globToRegExp(g).test(host))) return false;
    return list("allow").some((g) => globToRegExp(g).test(host));
}
