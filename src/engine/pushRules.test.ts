import { type PushRule, type RuleSet, pushRuleChanges } from "./pushRules.ts";

const NOTIFY = ["notify", { set_tweak: "sound", value: "default" }];
const SILENT: unknown[] = [];

/** A keyword rule (kind "content"), as the user makes it in Element. */
const keyword = (word: string, extra: Partial<PushRule> = {}): PushRule => ({
    rule_id: word,
    default: false,
    enabled: true,
    pattern: word,
    actions: NOTIFY,
    ...extra,
});
/** A per-room rule (kind "room"): its id is the room id. */
const roomRule = (roomId: string): PushRule => ({ rule_id: roomId, default: false, enabled: true, actions: SILENT });
/** A server default rule. */
const defaultRule = (ruleId: string, extra: Partial<PushRule> = {}): PushRule => ({
    rule_id: ruleId,
    default: true,
    enabled: true,
    actions: NOTIFY,
    conditions: [],
    ...extra,
});

const everyRoom = { includeRoomRule: () => true, copyDefaultChanges: false };
const ids = (puts: Array<{ rule: PushRule }>) => puts.map((p) => p.rule.rule_id);

describe("the user's own push rules", () => {
    test("are re-created lowest priority first, so each PUT (which lands on top) restores the old order", () => {
        const old: RuleSet = { content: [keyword("first"), keyword("second"), keyword("third")] };
        const { puts } = pushRuleChanges(old, {}, everyRoom);
        expect(puts.every((p) => p.kind === "content")).toBe(true);
        expect(ids(puts)).toEqual(["third", "second", "first"]);
    });

    test("are not sent again when the new account has them in the same order with the same content", () => {
        const old: RuleSet = { content: [keyword("first"), keyword("second")] };
        const neu: RuleSet = { content: [keyword("first"), keyword("mine-only"), keyword("second")] };
        expect(pushRuleChanges(old, neu, everyRoom).puts).toEqual([]);
    });

    test("are all sent again when the new account has them in another order", () => {
        const old: RuleSet = { content: [keyword("first"), keyword("second")] };
        const neu: RuleSet = { content: [keyword("second"), keyword("first")] };
        expect(ids(pushRuleChanges(old, neu, everyRoom).puts)).toEqual(["second", "first"]);
        // Sender rules alike in everything but their id: only the order tells them apart.
        const sender = (userId: string): PushRule => ({
            rule_id: userId,
            default: false,
            enabled: true,
            actions: NOTIFY,
        });
        const swapped = pushRuleChanges(
            { sender: [sender("@a:x.example"), sender("@b:x.example")] },
            { sender: [sender("@b:x.example"), sender("@a:x.example")] },
            everyRoom,
        );
        expect(ids(swapped.puts)).toEqual(["@b:x.example", "@a:x.example"]);
    });

    test("are all sent again when one is missing (a partial earlier run) or differs in content", () => {
        const old: RuleSet = { content: [keyword("first"), keyword("second")] };
        expect(ids(pushRuleChanges(old, { content: [keyword("first")] }, everyRoom).puts)).toEqual(["second", "first"]);
        const changed = { content: [keyword("first"), keyword("second", { actions: SILENT })] };
        expect(ids(pushRuleChanges(old, changed, everyRoom).puts)).toEqual(["second", "first"]);
    });

    test("a disabled rule is sent with enabled false, and one enabled on the new account differs from it", () => {
        const old: RuleSet = { content: [keyword("quiet", { enabled: false })] };
        const { puts } = pushRuleChanges(old, {}, everyRoom);
        expect(puts).toEqual([
            { kind: "content", rule: expect.objectContaining({ rule_id: "quiet", enabled: false }) },
        ]);
        expect(ids(pushRuleChanges(old, { content: [keyword("quiet")] }, everyRoom).puts)).toEqual(["quiet"]);
        expect(pushRuleChanges(old, { content: [keyword("quiet", { enabled: false })] }, everyRoom).puts).toEqual([]);
    });

    test("each kind is handled on its own: a kind in place sends nothing while another is re-sent", () => {
        const mute: PushRule = {
            rule_id: "!noisy:example.org",
            default: false,
            enabled: true,
            actions: SILENT,
            conditions: [{ kind: "event_match", key: "room_id", pattern: "!noisy:example.org" }],
        };
        const sender: PushRule = { rule_id: "@boss:example.org", default: false, enabled: true, actions: NOTIFY };
        const old: RuleSet = { override: [mute], sender: [sender] };
        const { puts } = pushRuleChanges(old, { override: [mute] }, everyRoom);
        expect(puts).toEqual([{ kind: "sender", rule: sender }]);
    });

    test("per-room rules move only for rooms being migrated", () => {
        const old: RuleSet = { room: [roomRule("!kept:example.org"), roomRule("!dropped:example.org")] };
        const { puts } = pushRuleChanges(
            old,
            {},
            { includeRoomRule: (roomId) => roomId === "!kept:example.org", copyDefaultChanges: false },
        );
        expect(puts).toEqual([{ kind: "room", rule: roomRule("!kept:example.org") }]);
    });
});

describe("the server's default rules", () => {
    const oldRules: RuleSet = {
        override: [
            defaultRule(".m.rule.master", { enabled: true, actions: SILENT }),
            defaultRule(".m.rule.suppress_notices", { actions: SILENT }),
        ],
        underride: [defaultRule(".m.rule.message", { actions: SILENT }), defaultRule(".m.rule.encrypted")],
    };
    const newRules: RuleSet = {
        override: [
            defaultRule(".m.rule.master", { enabled: false, actions: SILENT }),
            defaultRule(".m.rule.suppress_notices", { actions: SILENT }),
        ],
        underride: [defaultRule(".m.rule.message"), defaultRule(".m.rule.encrypted")],
    };

    test("are never sent as rules, and their changes are left alone unless the user opts in", () => {
        const changes = pushRuleChanges(oldRules, newRules, everyRoom);
        expect(changes).toEqual({ puts: [], defaultChanges: [] });
    });

    test("with the opt-in, a default rule's enabled flag and actions follow the old account's where they differ", () => {
        const { puts, defaultChanges } = pushRuleChanges(oldRules, newRules, {
            includeRoomRule: () => true,
            copyDefaultChanges: true,
        });
        expect(puts).toEqual([]);
        expect(defaultChanges).toEqual([
            { kind: "override", ruleId: ".m.rule.master", enabled: true },
            { kind: "underride", ruleId: ".m.rule.message", actions: SILENT },
        ]);
    });

    test("a rule whose id starts with a dot counts as a default rule even without default: true", () => {
        const old: RuleSet = { override: [{ rule_id: ".org.example.rule", enabled: false, actions: SILENT }] };
        const neu: RuleSet = { override: [{ rule_id: ".org.example.rule", enabled: true, actions: SILENT }] };
        expect(pushRuleChanges(old, neu, everyRoom).puts).toEqual([]);
        expect(pushRuleChanges(old, neu, { ...everyRoom, copyDefaultChanges: true }).defaultChanges).toEqual([
            { kind: "override", ruleId: ".org.example.rule", enabled: false },
        ]);
    });

    test("a default rule the new server does not have is not changed", () => {
        const old: RuleSet = { override: [defaultRule(".m.rule.old_server_only", { enabled: false })] };
        expect(pushRuleChanges(old, {}, { ...everyRoom, copyDefaultChanges: true }).defaultChanges).toEqual([]);
    });
});
