/**
 * Notification settings: which push rules to give the new account. Every rule the user made (keywords, muted
 * rooms, per-sender rules) moves, in its original order; the server's default rules are left as the new server has
 * them unless the user opts in to carrying over changes made to them.
 */

export const RULE_KINDS = ["override", "content", "room", "sender", "underride"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface PushRule {
    rule_id: string;
    default?: boolean;
    enabled?: boolean;
    actions?: unknown[];
    conditions?: unknown[];
    pattern?: string;
}

export type RuleSet = Partial<Record<RuleKind, PushRule[]>>;

export interface RulePut {
    kind: RuleKind;
    rule: PushRule;
}

export interface PushRuleChanges {
    /** User rules to (re)create, in the order to send them: each PUT lands on top, so the last sent ends first. */
    puts: RulePut[];
    /** Default rules whose enabled flag or actions should follow the old account's (opt-in). */
    defaultChanges: Array<{ kind: RuleKind; ruleId: string; enabled?: boolean; actions?: unknown[] }>;
}

const isUserRule = (r: PushRule) => !r.default && !r.rule_id.startsWith(".");

function sameRule(a: PushRule, b: PushRule): boolean {
    return (
        JSON.stringify(a.actions ?? []) === JSON.stringify(b.actions ?? []) &&
        JSON.stringify(a.conditions ?? []) === JSON.stringify(b.conditions ?? []) &&
        (a.pattern ?? null) === (b.pattern ?? null) &&
        (a.enabled ?? true) === (b.enabled ?? true)
    );
}

/**
 * @param includeRoomRule whether a per-room rule (kind "room", id = room id) belongs to a room being migrated
 */
export function pushRuleChanges(
    oldRules: RuleSet,
    newRules: RuleSet,
    opts: { includeRoomRule(roomId: string): boolean; copyDefaultChanges: boolean },
): PushRuleChanges {
    const puts: RulePut[] = [];
    const defaultChanges: PushRuleChanges["defaultChanges"] = [];
    for (const kind of RULE_KINDS) {
        const wanted = (oldRules[kind] ?? [])
            .filter(isUserRule)
            .filter((r) => kind !== "room" || opts.includeRoomRule(r.rule_id));
        const existing = (newRules[kind] ?? []).filter((r) => wanted.some((w) => w.rule_id === r.rule_id));
        const inPlace =
            existing.length === wanted.length &&
            wanted.every((w, i) => existing[i].rule_id === w.rule_id && sameRule(existing[i], w));
        // Re-sending the whole kind (lowest priority first) restores both content and order after a partial run.
        if (!inPlace) for (const rule of [...wanted].reverse()) puts.push({ kind, rule });

        if (!opts.copyDefaultChanges) continue;
        for (const oldDefault of (oldRules[kind] ?? []).filter((r) => !isUserRule(r))) {
            const current = (newRules[kind] ?? []).find((r) => r.rule_id === oldDefault.rule_id);
            if (!current) continue;
            const change: PushRuleChanges["defaultChanges"][number] = { kind, ruleId: oldDefault.rule_id };
            if ((oldDefault.enabled ?? true) !== (current.enabled ?? true)) change.enabled = oldDefault.enabled ?? true;
            if (JSON.stringify(oldDefault.actions ?? []) !== JSON.stringify(current.actions ?? []))
                change.actions = oldDefault.actions ?? [];
            if (change.enabled !== undefined || change.actions !== undefined) defaultChanges.push(change);
        }
    }
    return { puts, defaultChanges };
}
