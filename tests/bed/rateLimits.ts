/**
 * Synapse's rate limits, as YAML-ready objects.
 *
 * Two profiles: "functional" lifts every limit so tests exercise behaviour, not waiting; "default" keeps
 * Synapse's shipped defaults (optionally all scaled by one factor) so benchmarks measure what a real server allows.
 */

/** Synapse 1.163 defaults: per_second / burst_count (synapse/config/ratelimiting.py). */
export const SYNAPSE_DEFAULT_LIMITS: Record<string, { per_second: number; burst_count: number }> = {
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

export type LimitsProfile = { kind: "functional" } | { kind: "default"; scale?: number };

/** Turns the dotted keys into Synapse's nested config shape. */
function nest(flat: Record<string, { per_second: number; burst_count: number }>): Record<string, unknown> {
    const out: Record<string, any> = {};
    for (const [key, value] of Object.entries(flat)) {
        const parts = key.split(".");
        let node = out;
        for (const part of parts.slice(0, -1)) node = node[part] ??= {};
        node[parts[parts.length - 1]] = value;
    }
    return out;
}

export function rateLimitConfig(profile: LimitsProfile): Record<string, unknown> {
    if (profile.kind === "functional") {
        const lifted = Object.fromEntries(
            Object.keys(SYNAPSE_DEFAULT_LIMITS).map((k) => [k, { per_second: 10000, burst_count: 100000 }]),
        );
        return {
            ...nest(lifted),
            rc_federation: { window_size: 1000, sleep_limit: 10000, sleep_delay: 0, reject_limit: 100000, concurrent: 1000 },
        };
    }
    const scale = profile.scale ?? 1;
    if (!(scale > 0)) throw new Error(`The rate-limit scale must be a positive number, not ${profile.scale}`);
    const scaled = Object.fromEntries(
        Object.entries(SYNAPSE_DEFAULT_LIMITS).map(([k, v]) => [
            k,
            { per_second: v.per_second * scale, burst_count: Math.max(1, Math.round(v.burst_count * scale)) },
        ]),
    );
    return nest(scaled);
}
