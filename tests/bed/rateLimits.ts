/**
 * Synapse's rate limits, as YAML-ready objects.
 *
 * Two profiles: "functional" lifts every limit so tests exercise behaviour, not waiting; "default" keeps
 * Synapse's shipped defaults so benchmarks measure what a real server allows. `scale` speeds up the RATES only: the
 * bursts stay at their real values (a new account may receive 5 invites before the limit applies, as on a real
 * server), so a scaled run meets the same limits in the same order, just sooner. `overrides` replaces single limits
 * (e.g. an old server that lets its users invite freely, so only the new server's limit binds).
 */

/** Synapse 1.163 defaults: per_second / burst_count (synapse/config/ratelimiting.py). */
export const SYNAPSE_DEFAULT_LIMITS: Record<string, Limit> = {
    "rc_message": { per_second: 0.2, burst_count: 10 },
    "rc_registration": { per_second: 0.17, burst_count: 3 },
    "rc_registration_token_validity": { per_second: 0.1, burst_count: 5 },
    "rc_login.address": { per_second: 0.003, burst_count: 5 },
    "rc_login.account": { per_second: 0.003, burst_count: 5 },
    "rc_login.failed_attempts": { per_second: 0.17, burst_count: 3 },
    "rc_joins.local": { per_second: 0.1, burst_count: 10 },
    "rc_joins.remote": { per_second: 0.01, burst_count: 10 },
    "rc_joins_per_room": { per_second: 1, burst_count: 10 },
    "rc_key_requests": { per_second: 20, burst_count: 100 },
    "rc_3pid_validation": { per_second: 0.003, burst_count: 5 },
    "rc_invites.per_room": { per_second: 0.3, burst_count: 10 },
    "rc_invites.per_user": { per_second: 0.003, burst_count: 5 },
    "rc_invites.per_issuer": { per_second: 0.3, burst_count: 10 },
    "rc_third_party_invite": { per_second: 0.0025, burst_count: 5 },
    "rc_media_create": { per_second: 10, burst_count: 50 },
    "rc_presence.per_user": { per_second: 0.1, burst_count: 1 },
    "rc_delayed_event_mgmt": { per_second: 1, burst_count: 5 },
    "rc_room_creation": { per_second: 0.016, burst_count: 10 },
    "rc_reports": { per_second: 1, burst_count: 5 },
    "rc_user_directory": { per_second: 0.016, burst_count: 200 },
    "rc_profile": { per_second: 1, burst_count: 500 },
};

export interface Limit {
    per_second: number;
    burst_count: number;
}

export type LimitsProfile =
    { kind: "functional" } | { kind: "default"; scale?: number; overrides?: Record<string, Limit> };

/** Turns the dotted keys into Synapse's nested config shape. */
function nest(flat: Record<string, Limit>): Record<string, unknown> {
    type Node = { [key: string]: Node | Limit };
    const out: Node = {};
    for (const [key, value] of Object.entries(flat)) {
        const parts = key.split(".");
        let node = out;
        for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Node;
        node[parts[parts.length - 1]] = value;
    }
    return out;
}

export function rateLimitConfig(profile: LimitsProfile): Record<string, unknown> {
    const config = nest(effectiveRateLimits(profile));
    if (profile.kind === "functional") {
        config.rc_federation = {
            window_size: 1000,
            sleep_limit: 10000,
            sleep_delay: 0,
            reject_limit: 100000,
            concurrent: 1000,
        };
    }
    return config;
}

/** The limits a server of this profile enforces, by dotted name (what `rateLimitConfig` writes into its config). */
export function effectiveRateLimits(profile: LimitsProfile): Record<string, Limit> {
    if (profile.kind === "functional") {
        return Object.fromEntries(
            Object.keys(SYNAPSE_DEFAULT_LIMITS).map((k) => [k, { per_second: 10000, burst_count: 100000 }]),
        );
    }
    const scale = profile.scale ?? 1;
    if (!(scale > 0)) throw new Error(`The rate-limit scale must be a positive number, not ${profile.scale}`);
    const scaled = Object.fromEntries(
        Object.entries(SYNAPSE_DEFAULT_LIMITS).map(([k, v]) => [
            k,
            { per_second: v.per_second * scale, burst_count: v.burst_count },
        ]),
    );
    for (const [k, v] of Object.entries(profile.overrides ?? {})) {
        if (!(k in SYNAPSE_DEFAULT_LIMITS)) throw new Error(`Unknown rate limit ${k}`);
        scaled[k] = v;
    }
    return scaled;
}
