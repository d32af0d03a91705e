import { CREATOR, type PowerLevelsView, canGrantLevel, powerLevelsOf, roomHasCreators } from "./powerLevels.ts";
import { RoomState, type StateEvent } from "./snapshot.ts";

const ALICE = "@alice:example.org"; // the creator
const BOB = "@bob:example.org";
const CAROL = "@carol:example.org";

/** The power levels of a room created by Alice; `powerLevels: null` means no m.room.power_levels event. */
function levels(spec: {
    version?: string;
    additionalCreators?: unknown[];
    powerLevels: Record<string, unknown> | null;
}): PowerLevelsView {
    const version = spec.version ?? "10";
    const createContent: Record<string, unknown> = { room_version: version };
    if (spec.additionalCreators) createContent.additional_creators = spec.additionalCreators;
    const state: StateEvent[] = [{ type: "m.room.create", state_key: "", sender: ALICE, content: createContent }];
    if (spec.powerLevels)
        state.push({ type: "m.room.power_levels", state_key: "", sender: ALICE, content: spec.powerLevels });
    return powerLevelsOf(new RoomState({ roomId: "!r:example.org", membership: "join", state, accountData: {} }));
}

describe("power levels", () => {
    test("without a power_levels event the creator has 100, everyone else 0, and every threshold is 0", () => {
        const pl = levels({ powerLevels: null });
        expect(pl.hasEvent).toBe(false);
        expect(pl.userLevel(ALICE)).toBe(100);
        expect(pl.userLevel(BOB)).toBe(0);
        expect(pl.stateLevel("m.room.power_levels")).toBe(0);
        expect(pl.inviteLevel).toBe(0);
        expect(pl.usersDefault).toBe(0);
        expect(pl.highestLevel).toBe(100);
    });

    test("with a power_levels event, missing fields take the spec defaults (state_default 50, invite 0, users_default 0)", () => {
        const pl = levels({ powerLevels: { users: { [ALICE]: 100 } } });
        expect(pl.hasEvent).toBe(true);
        expect(pl.userLevel(BOB)).toBe(0);
        expect(pl.stateLevel("m.room.name")).toBe(50);
        expect(pl.inviteLevel).toBe(0);
    });

    test("users_default applies to users not in the map, events override state_default per type", () => {
        const pl = levels({
            powerLevels: {
                users: { [ALICE]: 100 },
                users_default: 10,
                state_default: 60,
                events: { "m.room.power_levels": 90 },
                invite: 20,
            },
        });
        expect(pl.userLevel(BOB)).toBe(10);
        expect(pl.usersDefault).toBe(10);
        expect(pl.stateLevel("m.room.power_levels")).toBe(90);
        expect(pl.stateLevel("m.room.topic")).toBe(60);
        expect(pl.inviteLevel).toBe(20);
    });

    test("levels written as integer strings (older rooms) count; other strings fall back to the default", () => {
        const pl = levels({
            powerLevels: { users: { [ALICE]: "100", [BOB]: "-5", [CAROL]: "high" }, users_default: "3", invite: "50" },
        });
        expect(pl.userLevel(ALICE)).toBe(100);
        expect(pl.userLevel(BOB)).toBe(-5);
        expect(pl.userLevel(CAROL)).toBe(3);
        expect(pl.inviteLevel).toBe(50);
    });

    test("highestLevel is the highest level anything in the room asks for, and at least 100", () => {
        expect(
            levels({ powerLevels: { users: { [ALICE]: 100 }, events: { "m.room.tombstone": 150 } } }).highestLevel,
        ).toBe(150);
        expect(levels({ powerLevels: { users: { [ALICE]: 50 }, ban: 75 } }).highestLevel).toBe(100);
        expect(levels({ powerLevels: { users: { [ALICE]: 9001 } } }).highestLevel).toBe(9001);
    });

    test("in room version 12 the creator and additional_creators have infinite power and no entry in the map", () => {
        const pl = levels({ version: "12", additionalCreators: [BOB, 7], powerLevels: { users: { [CAROL]: 50 } } });
        expect(pl.creators).toEqual([ALICE, BOB]);
        expect(pl.userLevel(ALICE)).toBe(CREATOR);
        expect(pl.userLevel(BOB)).toBe(CREATOR);
        expect(pl.userLevel(CAROL)).toBe(50);
    });

    test("room versions before 12 have no creators: additional_creators is ignored and the creator's level comes from the map", () => {
        const pl = levels({ version: "11", additionalCreators: [BOB], powerLevels: { users: { [ALICE]: 100 } } });
        expect(pl.creators).toEqual([]);
        expect(pl.userLevel(ALICE)).toBe(100);
        expect(pl.userLevel(BOB)).toBe(0);
        expect(roomHasCreators("12")).toBe(true);
        expect(roomHasCreators("org.matrix.hydra.11")).toBe(true);
        expect(roomHasCreators("11")).toBe(false);
    });

    test("a v12 room without a power_levels event still gives its creator infinite power", () => {
        const pl = levels({ version: "12", powerLevels: null });
        expect(pl.userLevel(ALICE)).toBe(CREATOR);
        expect(pl.userLevel(BOB)).toBe(0);
    });
});

describe("who may grant a level", () => {
    const room = levels({
        powerLevels: { users: { [ALICE]: 100, [BOB]: 50, [CAROL]: 50 }, events: { "m.room.power_levels": 50 } },
    });

    test("a user at the power_levels event's level may grant up to their own level", () => {
        expect(canGrantLevel(room, BOB, "@new:example.org", 50)).toBe(true);
        expect(canGrantLevel(room, BOB, "@new:example.org", 20)).toBe(true);
    });

    test("nobody may grant more than their own level", () => {
        expect(canGrantLevel(room, BOB, "@new:example.org", 51)).toBe(false);
    });

    test("a user below the power_levels event's level may grant nothing", () => {
        const strict = levels({
            powerLevels: { users: { [ALICE]: 100, [BOB]: 50 }, events: { "m.room.power_levels": 100 } },
        });
        expect(canGrantLevel(strict, BOB, "@new:example.org", 10)).toBe(false);
        expect(canGrantLevel(strict, ALICE, "@new:example.org", 100)).toBe(true);
    });

    test("nobody may change the level of someone at or above their own", () => {
        expect(canGrantLevel(room, BOB, CAROL, 20)).toBe(false);
        expect(canGrantLevel(room, BOB, ALICE, 50)).toBe(false);
        expect(canGrantLevel(room, ALICE, BOB, 75)).toBe(true);
    });

    test("a v12 creator may grant any level, but no one may change a creator's", () => {
        const v12 = levels({ version: "12", additionalCreators: [BOB], powerLevels: { users: { [CAROL]: 100 } } });
        expect(canGrantLevel(v12, ALICE, "@new:example.org", 150)).toBe(true);
        expect(canGrantLevel(v12, ALICE, BOB, 100)).toBe(false);
        expect(canGrantLevel(v12, CAROL, ALICE, 100)).toBe(false);
    });
});
