import { type MigrationPlan, type RoomPlan, buildPlan, invitesNeeded } from "./plan.ts";
import type { AccountSnapshot, RoomSource, StateEvent } from "./snapshot.ts";

const OLD = "@old:old.example";
const NEW = "@new:new.example";
const ADMIN = "@admin:old.example";

interface RoomSpec {
    id: string;
    name?: string;
    /** Room version (default "10"). */
    version?: string;
    /** Sender of m.room.create (default: the old account); joined unless `members` says otherwise. */
    creator?: string;
    additionalCreators?: string[];
    /** m.room.create `type` ("m.space", "m.server_notice"). */
    type?: string;
    federate?: boolean;
    joinRule?: string;
    /** For restricted rules: rooms whose members may join. */
    allow?: string[];
    /** Content of m.room.power_levels; `null` for no such event. Default: the creator has 100 (v12: empty map). */
    powerLevels?: Record<string, unknown> | null;
    /** Memberships besides the old account's (which is always "join"). */
    members?: Record<string, string>;
    acl?: Record<string, unknown>;
    tombstone?: string;
    encrypted?: boolean;
    accountData?: Record<string, Record<string, unknown>>;
}

/** A joined room as the old account sees it, with the state events the spec describes. */
function room(spec: RoomSpec): RoomSource {
    const creator = spec.creator ?? OLD;
    const version = spec.version ?? "10";
    const state: StateEvent[] = [];
    const add = (type: string, content: Record<string, unknown>, stateKey = "", sender = creator) =>
        state.push({ type, state_key: stateKey, sender, content });

    const create: Record<string, unknown> = { room_version: version };
    if (version !== "11" && version !== "12") create.creator = creator;
    if (spec.type) create.type = spec.type;
    if (spec.federate !== undefined) create["m.federate"] = spec.federate;
    if (spec.additionalCreators) create.additional_creators = spec.additionalCreators;
    add("m.room.create", create);

    const members: Record<string, string> = { [creator]: "join", ...spec.members, [OLD]: "join" };
    for (const [userId, membership] of Object.entries(members)) add("m.room.member", { membership }, userId, userId);

    const defaultLevels = version === "12" ? { users: {} } : { users: { [creator]: 100 } };
    if (spec.powerLevels !== null) add("m.room.power_levels", spec.powerLevels ?? defaultLevels);

    const joinRules: Record<string, unknown> = { join_rule: spec.joinRule ?? "invite" };
    if (spec.allow) joinRules.allow = spec.allow.map((roomId) => ({ type: "m.room_membership", room_id: roomId }));
    add("m.room.join_rules", joinRules);

    if (spec.name) add("m.room.name", { name: spec.name });
    if (spec.acl) add("m.room.server_acl", spec.acl);
    if (spec.tombstone) add("m.room.tombstone", { body: "This room was upgraded", replacement_room: spec.tombstone });
    if (spec.encrypted) add("m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" });
    return { roomId: spec.id, membership: "join", state, accountData: spec.accountData ?? {} };
}

const space = (spec: RoomSpec): RoomSource => room({ ...spec, type: "m.space" });

/** An invite the old account has not answered: stripped state only. */
function invite(spec: { id: string; name: string; inviter: string }): RoomSource {
    return {
        roomId: spec.id,
        membership: "invite",
        state: [
            { type: "m.room.name", state_key: "", sender: spec.inviter, content: { name: spec.name } },
            { type: "m.room.member", state_key: OLD, sender: spec.inviter, content: { membership: "invite" } },
        ],
        accountData: {},
    };
}

function snapshot(rooms: RoomSource[], accountData: AccountSnapshot["accountData"] = {}): AccountSnapshot {
    return { userId: OLD, rooms, accountData };
}

function plan(
    rooms: RoomSource[],
    opts: { newUserId?: string; accountData?: AccountSnapshot["accountData"] } = {},
): MigrationPlan {
    return buildPlan(snapshot(rooms, opts.accountData), opts.newUserId ?? NEW);
}

function roomIn(p: MigrationPlan, roomId: string): RoomPlan {
    const found = p.rooms.find((r) => r.roomId === roomId);
    if (!found) throw new Error(`${roomId} is not in the plan (rooms: ${p.rooms.map((r) => r.roomId).join(", ")})`);
    return found;
}

const codes = (r: RoomPlan) => r.blockers.map((b) => b.code);

/** Power levels where only an admin (not the old account) may invite. */
const adminOnlyInvites = { users: { [ADMIN]: 100 }, invite: 50 };

describe("room kinds", () => {
    test("a room listed in the old account's m.direct is a direct chat, with its partners from m.direct", () => {
        const p = plan([room({ id: "!dm:old.example" })], {
            accountData: {
                "m.direct": { "@alice:a.example": ["!dm:old.example"], "@bob:b.example": ["!dm:old.example", 42] },
            },
        });
        const dm = roomIn(p, "!dm:old.example");
        expect(dm.kind).toBe("dm");
        expect(dm.dmPartners).toEqual(["@alice:a.example", "@bob:b.example"]);
    });

    test("a room whose m.room.create type is m.space is a space, even when m.direct lists it", () => {
        const p = plan([space({ id: "!space:old.example" })], {
            accountData: { "m.direct": { "@alice:a.example": ["!space:old.example"] } },
        });
        expect(roomIn(p, "!space:old.example").kind).toBe("space");
    });

    test("a room with join rule public is public; invite-only and knock rooms are groups", () => {
        const p = plan([
            room({ id: "!pub:old.example", joinRule: "public" }),
            room({ id: "!inv:old.example", joinRule: "invite" }),
            room({ id: "!knock:old.example", joinRule: "knock" }),
        ]);
        expect(roomIn(p, "!pub:old.example").kind).toBe("public");
        expect(roomIn(p, "!inv:old.example").kind).toBe("group");
        expect(roomIn(p, "!knock:old.example").kind).toBe("group");
    });

    test("a room's name comes from m.room.name, and m.room.encryption marks it encrypted", () => {
        const p = plan([
            room({ id: "!named:old.example", name: "  Book club ", encrypted: true }),
            room({ id: "!plain:old.example" }),
        ]);
        expect(roomIn(p, "!named:old.example")).toMatchObject({
            name: "Book club",
            encrypted: true,
            historyVisibility: "shared",
        });
        expect(roomIn(p, "!plain:old.example")).toMatchObject({ name: "!plain:old.example", encrypted: false });
    });
});

describe("how the new account gets in", () => {
    test("a public room is joined directly, spending no invite", () => {
        const r = roomIn(
            plan([room({ id: "!pub:old.example", joinRule: "public", creator: ADMIN, powerLevels: adminOnlyInvites })]),
            "!pub:old.example",
        );
        expect(r).toMatchObject({ route: "join", status: "ready", blockers: [] });
    });

    test("a room the new account is already invited to is joined, even if the old account may not invite", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    creator: ADMIN,
                    powerLevels: adminOnlyInvites,
                    members: { [NEW]: "invite" },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ route: "join", status: "ready", newMembership: "invite", blockers: [] });
    });

    test("the old account invites when its level reaches the room's invite level", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    creator: ADMIN,
                    powerLevels: { users: { [ADMIN]: 100, [OLD]: 50 }, invite: 50 },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ route: "invite", status: "ready" });
    });

    test.each(["knock", "knock_restricted"])(
        "when the old account may not invite and the join rule is %s, the new account knocks (an admin must accept)",
        (joinRule) => {
            const r = roomIn(
                plan([room({ id: "!r:old.example", joinRule, creator: ADMIN, powerLevels: adminOnlyInvites })]),
                "!r:old.example",
            );
            expect(r.route).toBe("knock");
            expect(r.status).toBe("ready");
            expect(r.blockers).toHaveLength(1);
            expect(r.blockers[0]).toMatchObject({ code: "old-cannot-invite", blocks: "power" });
            expect(r.blockers[0].adminMessage).toContain(`${NEW} knocked`);
        },
    );

    test("when the old account may not invite to an invite-only room, the room is blocked with a message for its admin", () => {
        const r = roomIn(
            plan([room({ id: "!r:old.example", name: "Staff", creator: ADMIN, powerLevels: adminOnlyInvites })]),
            "!r:old.example",
        );
        expect(r.status).toBe("blocked");
        expect(r.blockers).toHaveLength(1);
        expect(r.blockers[0]).toMatchObject({ code: "old-cannot-invite", blocks: "room" });
        expect(r.blockers[0].adminMessage).toContain(`Could you invite ${NEW} to “Staff” (!r:old.example)?`);
        expect(r.blockers[0].adminMessage).toContain(`from ${OLD} to ${NEW}`);
    });
});

describe("restricted rooms joined through a space", () => {
    const theSpace = () => space({ id: "!space:old.example", name: "Work" });

    test("a restricted room whose space will be joined is joined after the space instead of spending an invite", () => {
        const p = plan([
            theSpace(),
            room({ id: "!r:old.example", joinRule: "restricted", allow: ["!space:old.example"] }),
        ]);
        expect(roomIn(p, "!r:old.example")).toMatchObject({
            route: "join",
            joinAfterSpace: "!space:old.example",
            status: "ready",
        });
        expect(invitesNeeded(p)).toBe(1); // the space only
    });

    test("a restricted room is joined through the space even when the old account may not invite in it", () => {
        const p = plan([
            theSpace(),
            room({
                id: "!r:old.example",
                joinRule: "restricted",
                allow: ["!space:old.example"],
                creator: ADMIN,
                powerLevels: adminOnlyInvites,
            }),
        ]);
        expect(roomIn(p, "!r:old.example")).toMatchObject({
            route: "join",
            joinAfterSpace: "!space:old.example",
            status: "ready",
            blockers: [],
        });
    });

    test("a knock_restricted room the old account may not invite to is joined through the space rather than knocked on", () => {
        const p = plan([
            theSpace(),
            room({
                id: "!r:old.example",
                joinRule: "knock_restricted",
                allow: ["!space:old.example"],
                creator: ADMIN,
                powerLevels: adminOnlyInvites,
            }),
        ]);
        expect(roomIn(p, "!r:old.example")).toMatchObject({
            route: "join",
            joinAfterSpace: "!space:old.example",
            status: "ready",
            blockers: [],
        });
    });

    test("a space the new account is already in opens its restricted rooms", () => {
        const p = plan([
            space({
                id: "!space:old.example",
                members: { [NEW]: "join" },
                powerLevels: { users: { [OLD]: 100, [NEW]: 100 } },
            }),
            room({
                id: "!r:old.example",
                joinRule: "restricted",
                allow: ["!space:old.example"],
                creator: ADMIN,
                powerLevels: adminOnlyInvites,
            }),
        ]);
        expect(roomIn(p, "!space:old.example").status).toBe("already");
        expect(roomIn(p, "!r:old.example")).toMatchObject({
            route: "join",
            joinAfterSpace: "!space:old.example",
            status: "ready",
        });
    });

    test("a blocked space opens nothing: its restricted rooms keep their invite, or stay blocked", () => {
        const p = plan([
            space({ id: "!space:old.example", creator: ADMIN, powerLevels: adminOnlyInvites }),
            room({ id: "!mine:old.example", joinRule: "restricted", allow: ["!space:old.example"] }),
            room({
                id: "!theirs:old.example",
                joinRule: "restricted",
                allow: ["!space:old.example"],
                creator: ADMIN,
                powerLevels: adminOnlyInvites,
            }),
        ]);
        expect(roomIn(p, "!space:old.example").status).toBe("blocked");
        expect(roomIn(p, "!mine:old.example")).toMatchObject({ route: "invite", status: "ready" });
        expect(roomIn(p, "!mine:old.example").joinAfterSpace).toBeUndefined();
        expect(roomIn(p, "!theirs:old.example").status).toBe("blocked");
        expect(codes(roomIn(p, "!theirs:old.example"))).toEqual(["old-cannot-invite"]);
    });

    test("a replaced (unselected) space opens nothing", () => {
        const p = plan([
            space({ id: "!space:old.example", tombstone: "!newspace:elsewhere.example" }),
            room({ id: "!r:old.example", joinRule: "restricted", allow: ["!space:old.example"] }),
        ]);
        expect(roomIn(p, "!space:old.example").selected).toBe(false);
        expect(roomIn(p, "!r:old.example")).toMatchObject({ route: "invite", status: "ready" });
        expect(roomIn(p, "!r:old.example").joinAfterSpace).toBeUndefined();
    });

    test("a room the allow list names but the old account is not in opens nothing", () => {
        const p = plan([room({ id: "!r:old.example", joinRule: "restricted", allow: ["!unknown:old.example"] })]);
        expect(roomIn(p, "!r:old.example")).toMatchObject({ route: "invite", status: "ready" });
    });

    test("a restricted room inside a restricted subspace is joined through the subspace, whatever order the rooms come in", () => {
        // Element makes subspaces restricted to their parent; here the old account may invite in neither.
        const parent = space({ id: "!parent:old.example", name: "Company" });
        const subspace = space({
            id: "!team:old.example",
            joinRule: "restricted",
            allow: ["!parent:old.example"],
            creator: ADMIN,
            powerLevels: adminOnlyInvites,
        });
        const child = room({
            id: "!standup:old.example",
            joinRule: "restricted",
            allow: ["!team:old.example"],
            creator: ADMIN,
            powerLevels: adminOnlyInvites,
        });
        for (const order of [
            [parent, subspace, child],
            [child, subspace, parent],
        ]) {
            const p = plan(order);
            expect(roomIn(p, "!team:old.example")).toMatchObject({
                route: "join",
                joinAfterSpace: "!parent:old.example",
                status: "ready",
            });
            expect(roomIn(p, "!standup:old.example")).toMatchObject({
                route: "join",
                joinAfterSpace: "!team:old.example",
                status: "ready",
            });
        }
    });

    test("two rooms restricted to each other are not each joined after the other (the run would wait forever)", () => {
        const p = plan([
            space({ id: "!b:old.example", joinRule: "restricted", allow: ["!a:old.example"] }),
            space({ id: "!a:old.example", joinRule: "restricted", allow: ["!b:old.example"] }),
        ]);
        const a = roomIn(p, "!a:old.example");
        const b = roomIn(p, "!b:old.example");
        expect(a.joinAfterSpace === "!b:old.example" && b.joinAfterSpace === "!a:old.example").toBe(false);
        // Whichever is not joined through the other is invited: the old account may invite in both.
        expect([a, b].filter((r) => r.joinAfterSpace === undefined).map((r) => r.route)).toEqual(["invite"]);
    });

    test("a space the new account can only knock on does not open its restricted rooms (the knock may never be accepted)", () => {
        const p = plan([
            space({ id: "!space:old.example", joinRule: "knock", creator: ADMIN, powerLevels: adminOnlyInvites }),
            room({ id: "!r:old.example", joinRule: "restricted", allow: ["!space:old.example"] }),
        ]);
        expect(roomIn(p, "!space:old.example").route).toBe("knock");
        // The old account may invite in the restricted room: that works now, whereas a join would wait on the knock.
        expect(roomIn(p, "!r:old.example").joinAfterSpace).toBeUndefined();
        expect(roomIn(p, "!r:old.example").route).toBe("invite");
    });
});

describe("target power level", () => {
    test("a moderator's level is handed over as is", () => {
        const r = roomIn(
            plan([room({ id: "!r:old.example", creator: ADMIN, powerLevels: { users: { [ADMIN]: 100, [OLD]: 50 } } })]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ oldPowerLevel: 50, targetPowerLevel: 50, blockers: [] });
    });

    test("no level is set when the old level is no higher than users_default", () => {
        const atDefault = room({
            id: "!default:old.example",
            creator: ADMIN,
            powerLevels: { users: { [ADMIN]: 100 }, users_default: 10 },
        });
        const zero = room({ id: "!zero:old.example", creator: ADMIN, powerLevels: { users: { [ADMIN]: 100 } } });
        const p = plan([atDefault, zero]);
        expect(roomIn(p, "!default:old.example")).toMatchObject({ oldPowerLevel: 10, targetPowerLevel: null });
        expect(roomIn(p, "!zero:old.example")).toMatchObject({ oldPowerLevel: 0, targetPowerLevel: null });
    });

    test("no level is set when the new account already has at least the old level", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    creator: ADMIN,
                    powerLevels: { users: { [ADMIN]: 100, [OLD]: 50, [NEW]: 50 } },
                    members: { [NEW]: "leave" },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ targetPowerLevel: null, newPowerLevel: 50, route: "invite" });
    });

    test("the creator of a v10 room gets its level (100) from the power levels' users map, with nothing blocking leaving", () => {
        const r = roomIn(plan([room({ id: "!r:old.example", version: "10" })]), "!r:old.example");
        expect(r).toMatchObject({ oldPowerLevel: 100, targetPowerLevel: 100, blockers: [] });
    });

    test("in a room with no power_levels event the creator has 100, which the new account gets", () => {
        const r = roomIn(plan([room({ id: "!r:old.example", powerLevels: null })]), "!r:old.example");
        expect(r).toMatchObject({ oldPowerLevel: 100, targetPowerLevel: 100, route: "invite", blockers: [] });
    });

    test("a creator in room version 12 hands over the highest level the room uses, and is warned only against leaving", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    version: "12",
                    powerLevels: { users: { "@mod:old.example": 50 }, events: { "m.room.tombstone": 150 } },
                }),
            ]),
            "!r:old.example",
        );
        expect(r.oldPowerLevel).toBe(Number.POSITIVE_INFINITY);
        expect(r.targetPowerLevel).toBe(150);
        expect(r.status).toBe("ready");
        expect(r.blockers).toHaveLength(1);
        expect(r.blockers[0]).toMatchObject({ code: "creator-power", blocks: "leave" });
        expect(r.blockers[0].reason).toContain("level 150");
    });

    test("a creator in room version 12 with default power levels hands over 100", () => {
        const r = roomIn(plan([room({ id: "!r:old.example", version: "12" })]), "!r:old.example");
        expect(r.targetPowerLevel).toBe(100);
        expect(codes(r)).toEqual(["creator-power"]);
    });

    test("when the old account's level is below the power_levels event's level, the level is left to an admin", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    creator: ADMIN,
                    powerLevels: { users: { [ADMIN]: 100, [OLD]: 50 }, events: { "m.room.power_levels": 100 } },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ route: "invite", status: "ready", targetPowerLevel: 50 });
        expect(r.blockers).toHaveLength(1);
        expect(r.blockers[0]).toMatchObject({ code: "old-cannot-set-power", blocks: "power" });
        expect(r.blockers[0].adminMessage).toContain(`give ${NEW} power level 50`);
    });

    test("without an events entry, state_default decides whether the old account may change power levels", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    creator: ADMIN,
                    powerLevels: { users: { [ADMIN]: 100, [OLD]: 50 }, state_default: 75 },
                }),
            ]),
            "!r:old.example",
        );
        expect(codes(r)).toEqual(["old-cannot-set-power"]);
    });
});

describe("what stops a room", () => {
    test("a new account banned from the room blocks it, with a request to unban", () => {
        const r = roomIn(plan([room({ id: "!r:old.example", members: { [NEW]: "ban" } })]), "!r:old.example");
        expect(r.status).toBe("blocked");
        expect(r.blockers[0]).toMatchObject({ code: "new-banned", blocks: "room" });
        expect(r.blockers[0].adminMessage).toContain(`unban ${NEW}`);
    });

    test("a server ACL denying the new account's server blocks the room, whatever port the server name has", () => {
        const p = plan([room({ id: "!r:old.example", acl: { allow: ["*"], deny: ["new.example"] } })], {
            newUserId: "@new:new.example:8448",
        });
        const r = roomIn(p, "!r:old.example");
        expect(r.status).toBe("blocked");
        expect(r.blockers[0]).toMatchObject({ code: "server-acl-denies", blocks: "room" });
        expect(r.blockers[0].adminMessage).toContain("new.example:8448");
    });

    test("a server ACL with allow_ip_literals false blocks a new account on an IP-literal server, and only then", () => {
        const acl = (extra: Record<string, unknown>) => room({ id: "!r:old.example", acl: { allow: ["*"], ...extra } });
        const newUserId = "@new:127.0.0.1:8492";
        expect(codes(roomIn(plan([acl({ allow_ip_literals: false })], { newUserId }), "!r:old.example"))).toEqual([
            "server-acl-denies",
        ]);
        expect(codes(roomIn(plan([acl({})], { newUserId }), "!r:old.example"))).toEqual([]);
        expect(codes(roomIn(plan([acl({ allow_ip_literals: false })]), "!r:old.example"))).toEqual([]);
    });

    test("m.federate false blocks a new account on another server than the room's creator", () => {
        const r = roomIn(plan([room({ id: "!r:old.example", federate: false })]), "!r:old.example");
        expect(r.status).toBe("blocked");
        expect(r.blockers[0]).toMatchObject({ code: "not-federated", blocks: "room" });
        expect(r.blockers[0].reason).toContain("old.example");
        expect(r.blockers[0].adminMessage).toBeUndefined();
    });

    test("m.federate false is no obstacle for a new account on the creator's server", () => {
        const r = roomIn(
            plan([room({ id: "!r:old.example", federate: false })], { newUserId: "@new:old.example" }),
            "!r:old.example",
        );
        expect(r).toMatchObject({ status: "ready", route: "invite", blockers: [] });
    });

    test("a tombstoned room is replaced and unselected; its successor, which the old account joined, is migrated instead", () => {
        const p = plan([
            room({ id: "!v1:old.example", name: "Chat", tombstone: "!v2:old.example" }),
            room({ id: "!v2:old.example", name: "Chat" }),
        ]);
        const r = roomIn(p, "!v1:old.example");
        expect(r).toMatchObject({
            status: "replaced",
            selected: false,
            successorRoomId: "!v2:old.example",
            route: "none",
        });
        expect(r.blockers[0].code).toBe("tombstoned");
        expect(r.blockers[0].reason).toContain("which is migrated instead");
        expect(roomIn(p, "!v2:old.example").status).toBe("ready");
    });

    test("a tombstoned room whose successor the old account never joined says so and names the successor", () => {
        const r = roomIn(plan([room({ id: "!v1:old.example", tombstone: "!v2:other.example" })]), "!v1:old.example");
        expect(r.status).toBe("replaced");
        expect(r.blockers[0].reason).toContain("replaced by !v2:other.example, which the old account never joined");
    });
});

describe("rooms already done, invites and skipped rooms", () => {
    test("a room the new account has joined with at least the old level is already done", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    powerLevels: { users: { [OLD]: 100, [NEW]: 100 } },
                    members: { [NEW]: "join" },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ status: "already", route: "none", targetPowerLevel: null, blockers: [] });
    });

    test("a room the new account has joined with a lower level still needs its level raised", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    powerLevels: { users: { [OLD]: 100, [NEW]: 50 } },
                    members: { [NEW]: "join" },
                }),
            ]),
            "!r:old.example",
        );
        expect(r).toMatchObject({ status: "ready", route: "none", targetPowerLevel: 100 });
    });

    test("invites the old account has not answered are listed separately with their inviter, never as rooms", () => {
        const p = plan([
            room({ id: "!r:old.example" }),
            invite({ id: "!party:other.example", name: "Party", inviter: "@host:other.example" }),
        ]);
        expect(p.pendingInvites).toEqual([
            { roomId: "!party:other.example", name: "Party", inviter: "@host:other.example" },
        ]);
        expect(p.rooms.map((r) => r.roomId)).toEqual(["!r:old.example"]);
    });

    test("server notice rooms (m.server_notice) are left out", () => {
        const p = plan([
            room({ id: "!notices:old.example", type: "m.server_notice", creator: "@notices:old.example" }),
            room({ id: "!r:old.example" }),
        ]);
        expect(p.rooms.map((r) => r.roomId)).toEqual(["!r:old.example"]);
    });
});

describe("plan shape", () => {
    test("rooms are ordered spaces, direct chats, groups, public rooms, and by name within each", () => {
        const p = plan(
            [
                room({ id: "!announce:old.example", name: "Announcements", joinRule: "public" }),
                room({ id: "!book:old.example", name: "Book club" }),
                room({ id: "!zoe:old.example", name: "Zoe" }),
                space({ id: "!work:old.example", name: "Work" }),
                room({ id: "!art:old.example", name: "Art" }),
            ],
            { accountData: { "m.direct": { "@zoe:z.example": ["!zoe:old.example"] } } },
        );
        expect(p.rooms.map((r) => r.name)).toEqual(["Work", "Zoe", "Art", "Book club", "Announcements"]);
    });

    test("via servers: the old account's server first, then the creator's, then the busiest; at most three", () => {
        const members = {
            "@carol:creator.example": "join",
            "@a:busy.example": "join",
            "@b:busy.example": "join",
            "@c:busy.example": "join",
            "@d:mid.example": "join",
            "@e:mid.example": "join",
            "@f:quiet.example": "join",
        };
        const byOther = roomIn(
            plan([room({ id: "!r:old.example", creator: "@carol:creator.example", members })]),
            "!r:old.example",
        );
        expect(byOther.via).toEqual(["old.example", "creator.example", "busy.example"]);

        const gone = {
            "@g1:gone.example": "leave",
            "@g2:gone.example": "leave",
            "@g3:gone.example": "leave",
            "@g4:gone.example": "ban",
        };
        const byOld = roomIn(
            plan([room({ id: "!r:old.example", members: { ...members, ...gone } })]),
            "!r:old.example",
        );
        // Members who left do not count; the old server appears once.
        expect(byOld.via).toEqual(["old.example", "busy.example", "mid.example"]);
    });

    test("invitesNeeded counts only selected, ready rooms the new account is invited to", () => {
        const p = plan([
            space({ id: "!space:old.example" }),
            room({ id: "!restricted:old.example", joinRule: "restricted", allow: ["!space:old.example"] }),
            room({ id: "!g1:old.example" }),
            room({ id: "!g2:old.example" }),
            room({ id: "!public:old.example", joinRule: "public" }),
            room({ id: "!blocked:old.example", creator: ADMIN, powerLevels: adminOnlyInvites }),
            room({
                id: "!done:old.example",
                members: { [NEW]: "join" },
                powerLevels: { users: { [OLD]: 100, [NEW]: 100 } },
            }),
        ]);
        expect(invitesNeeded(p)).toBe(3);
        roomIn(p, "!g2:old.example").selected = false;
        expect(invitesNeeded(p)).toBe(2);
    });

    test("room account data: m.tag and ordinary types are copied; m.fully_read and secrets are not", () => {
        const r = roomIn(
            plan([
                room({
                    id: "!r:old.example",
                    accountData: {
                        "m.fully_read": { event_id: "$read" },
                        "m.tag": { tags: { "m.favourite": { order: 0.5 } } },
                        "m.secret_storage.key.abc": { algorithm: "m.secret_storage.v1.aes-hmac-sha2" },
                        "org.example.room_recovery_code": { code: "1234" },
                        "m.marked_unread": { unread: true },
                        "org.example.room_setting": { colour: "blue" },
                    },
                }),
            ]),
            "!r:old.example",
        );
        expect(r.roomAccountData).toEqual({
            "m.tag": { tags: { "m.favourite": { order: 0.5 } } },
            "m.marked_unread": { unread: true },
            "org.example.room_setting": { colour: "blue" },
        });
    });

    test("optional account data offers only ordinary settings, sorted and unselected, with labels", () => {
        const p = plan([], {
            accountData: {
                "m.widgets": {},
                "m.direct": {},
                "m.push_rules": {},
                "m.ignored_user_list": {},
                "m.secret_storage.default_key": { key: "abc" },
                "m.cross_signing.master": {},
                "m.megolm_backup.v1": {},
                "io.github.matrix_account_migration.journal": {},
                "io.element.matrix_client_information.DEVICEID": {},
                "im.vector.web.settings": {},
                "org.example.custom": {},
            },
        });
        expect(p.optionalAccountData).toEqual([
            {
                type: "im.vector.web.settings",
                scope: "account",
                label: "Element settings (theme, layout, …)",
                selected: false,
            },
            { type: "m.widgets", scope: "account", label: "Personal widgets (sticker picker, …)", selected: false },
            {
                type: "org.example.custom",
                scope: "account",
                label: "Other setting (org.example.custom)",
                selected: false,
            },
        ]);
    });

    test("options not given take the defaults (nothing is left, no notices, default push rules untouched)", () => {
        const p = buildPlan(snapshot([]), NEW, { leaveOldRooms: true });
        expect(p.options).toEqual({
            leaveOldRooms: true,
            movedNotice: false,
            copyDefaultPushRuleChanges: false,
            acceptMissingKeys: [],
        });
        expect(p).toMatchObject({ oldUserId: OLD, newUserId: NEW });
    });
});

describe("issue 7.6: nested spaces are joined parents first", () => {
    test("a three-level space whose names sort child-first is planned top space first, each level after its parent", () => {
        const top = space({ id: "!top:old.example", name: "Zeta (top)" });
        const middle = space({
            id: "!mid:old.example",
            name: "Mu (middle)",
            joinRule: "restricted",
            allow: ["!top:old.example"],
        });
        const bottom = space({
            id: "!bottom:old.example",
            name: "Alpha (bottom)",
            joinRule: "restricted",
            allow: ["!mid:old.example"],
        });
        const inner = room({
            id: "!inner:old.example",
            name: "Aardvark room",
            joinRule: "restricted",
            allow: ["!bottom:old.example"],
        });
        const p = plan([inner, bottom, middle, top]);
        expect(p.rooms.map((r) => r.roomId)).toEqual([
            "!top:old.example",
            "!mid:old.example",
            "!bottom:old.example",
            "!inner:old.example",
        ]);
        expect(roomIn(p, "!top:old.example")).toMatchObject({ route: "invite" });
        expect(roomIn(p, "!mid:old.example")).toMatchObject({ route: "join", joinAfterSpace: "!top:old.example" });
        expect(roomIn(p, "!bottom:old.example")).toMatchObject({ route: "join", joinAfterSpace: "!mid:old.example" });
        expect(roomIn(p, "!inner:old.example")).toMatchObject({ route: "join", joinAfterSpace: "!bottom:old.example" });
    });
});

describe("issue 7.14: account data that must not move is never offered, and room-level settings are opt-in", () => {
    test("device-bound notification settings and the analytics id are never offered", () => {
        const p = plan([], {
            accountData: {
                "org.matrix.msc3890.local_notification_settings.ABCDEF": { is_silenced: true },
                "im.vector.analytics": { id: "analytics-id-of-the-old-account", pseudonymousAnalyticsOptIn: true },
                "m.widgets": {},
            },
        });
        expect(p.optionalAccountData.map((o) => o.type)).toEqual(["m.widgets"]);
    });

    test("room-level account data other than tags is listed as opt-in, unselected, never as a secret", () => {
        const p = plan([
            room({
                id: "!a:old.example",
                accountData: { "m.tag": { tags: { "m.favourite": {} } }, "org.example.room_pref": { x: 1 } },
            }),
            room({
                id: "!b:old.example",
                accountData: { "org.example.room_pref": { x: 2 }, "m.secret_storage.key.x": {} },
            }),
        ]);
        expect(p.optionalAccountData).toEqual([
            {
                type: "org.example.room_pref",
                scope: "room",
                label: "Room setting (org.example.room_pref) in 2 rooms",
                selected: false,
            },
        ]);
        expect(Object.keys(roomIn(p, "!b:old.example").roomAccountData)).toEqual(["org.example.room_pref"]);
    });
});
