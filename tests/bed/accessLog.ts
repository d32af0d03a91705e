/**
 * Reads what really reached the homeservers, from Synapse's own access log: which requests each user made. Lets a
 * test prove a dry run sent no writes without trusting the code under test to report it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import type { Homeserver } from "./homeservers.ts";

export interface LoggedRequest {
    user: string;
    method: string;
    path: string;
    status: number;
}

const LINE = /synapse\.access\.https?\.\d+ .* - \{([^}]*)\} Processed request: .* (\d{3}) "(\w+) (\S+) HTTP/;

function readLog(hs: Homeserver): string[] {
    return readFileSync(path.join(hs.dataDir, "homeserver.log"), "utf8").split("\n");
}

/** A position in both servers' logs; `requestsSince` returns what was logged after it. */
export function logMark(servers: Homeserver[]): Map<string, number> {
    return new Map(servers.map((hs) => [hs.label, readLog(hs).length]));
}

export async function requestsSince(servers: Homeserver[], mark: Map<string, number>): Promise<LoggedRequest[]> {
    // Synapse writes the access line as the response finishes; give the last one a moment to land.
    await new Promise((r) => setTimeout(r, 300));
    const out: LoggedRequest[] = [];
    for (const hs of servers) {
        for (const line of readLog(hs).slice(mark.get(hs.label) ?? 0)) {
            const m = LINE.exec(line);
            if (m) out.push({ user: m[1], status: Number(m[2]), method: m[3], path: decodeURIComponent(m[4]) });
        }
    }
    return out;
}

/** Requests that are not changes though not GETs: a session signed in or out, and POSTs that only read. */
const NOT_A_CHANGE = /\/(login|logout|keys\/query|user\/[^/]+\/filter)$/;

/** Whether a client request (method, and path with or without its query) can change something on a homeserver. */
export function isChange(method: string, path: string): boolean {
    return method !== "GET" && method !== "OPTIONS" && !NOT_A_CHANGE.test(path.split("?")[0]!);
}

/**
 * The requests among `requests` that change something on a server, made by one of `users` (by any signed-in user
 * when omitted); federation between the servers is not a user's and is left out.
 */
export function changesIn(requests: LoggedRequest[], users?: string[]): LoggedRequest[] {
    return requests.filter(
        (r) => (users ? users.includes(r.user) : r.user.startsWith("@")) && isChange(r.method, r.path),
    );
}
