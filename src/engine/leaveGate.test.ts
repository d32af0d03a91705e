import type { HistoryAudit } from "./history.ts";
import type { RoomKeyCheck } from "./keyHandover.ts";
import { type LeaveFacts, evaluateLeaveGate } from "./leaveGate.ts";
import { reportExitCode, type MigrationReport } from "./migration.ts";
import type { Blocker } from "./plan.ts";
import { CREATOR } from "./powerLevels.ts";
import { reason } from "./reasons.ts";

const allVisible: HistoryAudit = {
    oldSees: 5,
    newSees: 5,
    newCanDecrypt: 5,
    notVisible: 0,
    noKey: 0,
    method: "exact",
    tries: 0,
};
const allKeys: RoomKeyCheck = { existing: 15, present: 15, missing: 0, backupVersion: "3", reasons: [] };

function facts(over: Partial<LeaveFacts> = {}): LeaveFacts {
    return {
        blockers: [],
        onNewServer: { membership: "join", newLevel: 100 },
        onOldServer: { membership: "join", newLevel: 100, oldLevel: 100, server: "old.example" },
        encrypted: false,
        lossesAccepted: false,
        history: allVisible,
        ...over,
    };
}

const keysOf = (decision: ReturnType<typeof evaluateLeaveGate>) => decision.reasons.map((r) => r.key);

describe("the leave gate", () => {
    test("opens when the new account is in with the old account's level on both servers and nothing is missing", () => {
        expect(evaluateLeaveGate(facts())).toEqual({ open: true, reasons: [] });
        expect(evaluateLeaveGate(facts({ encrypted: true, keys: allKeys }))).toEqual({ open: true, reasons: [] });
    });

    describe("issue 7.1: keys", () => {
        test("an encrypted room whose keys are only in the old backup stays, saying how many and what to do", () => {
            const keys: RoomKeyCheck = {
                existing: 15,
                present: 3,
                missing: 12,
                reasons: [reason("keys-only-in-old-backup", { missing: 12, total: 15 })],
            };
            const decision = evaluateLeaveGate(facts({ encrypted: true, keys }));
            expect(decision.open).toBe(false);
            expect(decision.reasons).toEqual([reason("keys-only-in-old-backup", { missing: 12, total: 15 })]);
        });

        test("'0 handed over' is not 'nothing needed': when no source of keys could be read, the room stays", () => {
            const keys: RoomKeyCheck = { existing: null, present: 0, missing: 0, reasons: [reason("keys-unknown")] };
            expect(keysOf(evaluateLeaveGate(facts({ encrypted: true, keys })))).toEqual(["reason|keys-unknown"]);
        });

        test("issue 16.5a: a room the hand-over stopped before enumerating is unknown, not empty: it stays", () => {
            const keys: RoomKeyCheck = {
                existing: null,
                present: 0,
                missing: 0,
                reasons: [reason("keys-not-enumerated", { error: "M_FORBIDDEN" })],
            };
            expect(keysOf(evaluateLeaveGate(facts({ encrypted: true, keys })))).toEqual(["reason|keys-not-enumerated"]);
        });

        test("without a key hand-over in this run, an encrypted room stays", () => {
            expect(keysOf(evaluateLeaveGate(facts({ encrypted: true })))).toEqual(["reason|stayed-no-key-handover"]);
        });

        test("named losses the user accepted for this room let it go", () => {
            const keys: RoomKeyCheck = {
                existing: 15,
                present: 3,
                missing: 12,
                reasons: [reason("keys-only-in-old-backup", { missing: 12, total: 15 })],
            };
            expect(evaluateLeaveGate(facts({ encrypted: true, keys, lossesAccepted: true })).open).toBe(true);
        });
    });

    describe("issue 7.3: levels read now, on both servers", () => {
        test("a new account whose level is now lower than the old account's keeps the old account in", () => {
            const decision = evaluateLeaveGate(facts({ onNewServer: { membership: "join", newLevel: 50 } }));
            expect(decision.reasons).toEqual([reason("stayed-level-lower", { newLevel: 50, oldLevel: 100 })]);
        });

        test("the old account's level counts as it is now, not as planned", () => {
            const decision = evaluateLeaveGate(
                facts({ onOldServer: { membership: "join", newLevel: 100, oldLevel: 150, server: "old.example" } }),
            );
            expect(decision.reasons).toEqual([reason("stayed-level-lower", { newLevel: 100, oldLevel: 150 })]);
        });
    });

    describe("issue 7.4: the old account's server must see the new account too", () => {
        test("joined on the new server only: the old account stays", () => {
            const decision = evaluateLeaveGate(
                facts({ onOldServer: { membership: undefined, newLevel: 0, oldLevel: 100, server: "old.example" } }),
            );
            expect(keysOf(decision)).toEqual(["reason|stayed-not-joined-old", "reason|stayed-level-lower"]);
        });
    });

    test("a blocker that stops leaving (a creator's power) keeps the old account in, once, with the blocker's words", () => {
        const creator: Blocker = {
            code: "creator-power",
            blocks: "leave",
            messageKey: "creator-power",
            params: { room: "“R”", level: 150 },
            reason: "",
        };
        const decision = evaluateLeaveGate(
            facts({
                blockers: [creator],
                onOldServer: { membership: "join", newLevel: 150, oldLevel: CREATOR, server: "old.example" },
            }),
        );
        expect(decision).toEqual({
            open: false,
            reasons: [{ key: "blocker|creator-power", params: { room: "“R”", level: 150 } }],
        });
    });
});

test("issue 16.5d: a direct chat missing from the new account's m.direct under its partner stays", () => {
    expect(evaluateLeaveGate(facts({ notDirectFor: ["@bob:old.example"] }))).toEqual({
        open: false,
        reasons: [reason("stayed-not-direct", { partners: "@bob:old.example" })],
    });
    expect(evaluateLeaveGate(facts({ notDirectFor: [] })).open).toBe(true);
});

describe("issue 7.19: exit codes", () => {
    const report = (
        rooms: Array<{ outcome: MigrationReport["rooms"][number]["outcome"] }>,
        keys?: Partial<MigrationReport["keys"]>,
    ) => ({ rooms, errors: [], keys }) as unknown as MigrationReport;

    test("all rooms migrated and nothing encrypted: 0, even when the new account has no key backup", () => {
        expect(
            reportExitCode(
                report([{ outcome: "migrated" }, { outcome: "already" }], {
                    error: "The new account has no key backup",
                    perRoom: {},
                }),
            ),
        ).toBe(0);
    });

    test("a room that needs action (e.g. an encrypted room with missing keys): 3", () => {
        expect(reportExitCode(report([{ outcome: "migrated" }, { outcome: "needs-action" }]))).toBe(3);
    });

    test("issue 16.5a: a key hand-over that stopped part way: 3, even when every room looks done", () => {
        expect(
            reportExitCode(report([{ outcome: "migrated" }], { handOverError: "M_FORBIDDEN: refused", perRoom: {} })),
        ).toBe(3);
    });

    test("a failed room: 1", () => {
        expect(reportExitCode(report([{ outcome: "failed" }, { outcome: "needs-action" }]))).toBe(1);
    });
});

describe("issue 16.3: the gate uses the history audit", () => {
    const hiddenBlocker = {
        code: "hidden-history",
        blocks: "leave",
        messageKey: "hidden-history-invited",
        params: { count: 5 },
        reason: "",
    } as Blocker;

    test("messages the new account cannot see keep the old account, with how many of how many", () => {
        const history = { ...allVisible, newSees: 0, newCanDecrypt: 0, notVisible: 5 };
        const decision = evaluateLeaveGate(facts({ history, blockers: [hiddenBlocker] }));
        expect(decision).toEqual({
            open: false,
            reasons: [reason("stayed-history-not-visible", { count: 5, total: 5 })],
        });
    });

    test("encrypted messages the new account sees without a key in its backup keep the old account", () => {
        const history = { ...allVisible, newCanDecrypt: 3, noKey: 2 };
        expect(keysOf(evaluateLeaveGate(facts({ encrypted: true, keys: allKeys, history })))).toEqual([
            "reason|stayed-history-no-key",
        ]);
    });

    test("the person's acceptance of the room's named loss opens the gate; the plan's foretelling alone never closes it", () => {
        const history = { ...allVisible, notVisible: 2, newSees: 3, newCanDecrypt: 3 };
        expect(evaluateLeaveGate(facts({ history, lossesAccepted: true, blockers: [hiddenBlocker] })).open).toBe(true);
        // The audit found everything visible (e.g. the new account was invited before those messages): it leaves.
        expect(evaluateLeaveGate(facts({ blockers: [hiddenBlocker] })).open).toBe(true);
    });

    test("an audit that could not be made, or a sample where the plan found hidden history, keeps the old account", () => {
        expect(keysOf(evaluateLeaveGate(facts({ history: { error: "timeout" }, lossesAccepted: true })))).toEqual([
            "reason|stayed-history-not-audited",
        ]);
        const sampled = { ...allVisible, method: "sampled" as const };
        expect(keysOf(evaluateLeaveGate(facts({ history: sampled, blockers: [hiddenBlocker] })))).toEqual([
            "reason|stayed-history-sampled",
        ]);
        expect(evaluateLeaveGate(facts({ history: sampled })).open).toBe(true);
    });
});

test("issue 16.3: where the key check already keeps the old account, its reasons speak for the missing keys", () => {
    const keys: RoomKeyCheck = { existing: 3, present: 0, missing: 3, reasons: [reason("keys-no-new-backup")] };
    const history: HistoryAudit = { ...allVisible, newCanDecrypt: 0, noKey: 5 };
    expect(evaluateLeaveGate(facts({ encrypted: true, keys, history })).reasons).toEqual([
        reason("keys-no-new-backup"),
    ]);
});
