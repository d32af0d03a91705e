/**
 * The old account the interruption and fault trials migrate: the demo account (tests/fixtures/demoAccounts.ts: real
 * encrypted history, key backups and recovery on both sides, a space, direct chats on both servers) plus rooms the
 * old account can leave and a plain direct chat where the "moved" note goes: with `--leave-old-rooms` and
 * `--moved-notice`, every kind of step a migration has runs, including the ones that remove something.
 *
 * Rooms the old account may leave (it created none of them): "Town square" (bob's, alice moderates), "Book club"
 * (carol's on B, encrypted: only once every key is in the new backup), and the extras below. Rooms it created in
 * room version 12 keep it (a creator's power cannot be handed over), which the gate must say and not work around.
 */
import { seg } from "../../src/sessions/matrixHttp.ts";
import { type RegisteredUser, registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import type { BedDescription } from "../bed/jestGlobal.ts";
import { type Actor, createRoom, join, sessionFor } from "../support/scenario.ts";
import { type DemoAccounts, randomDemoAccountSpecs, seedDemoAccounts } from "../fixtures/demoAccounts.ts";
import { loginDevice } from "../keys/history.ts";

export interface TrialAccount {
    demo: DemoAccounts;
    /** Every room of the fixture by a name that is the same in every copy of it. */
    rooms: Record<string, string>;
    /** Signed-in sessions of the people in the rooms, and of each server's admin (admin APIs read the servers' own state). */
    alice: Actor;
    aliceNew: Actor;
    bob: Actor;
    carol: Actor;
    adminA: Actor;
    adminB: Actor;
    /** Plain direct chats where the moved note is expected (encrypted ones get none from the CLI). */
    plainDms: string[];
}

const asActor = async (
    hs: BedDescription["a"],
    user: { userId: string; password: string },
    device: string,
): Promise<Actor> => {
    const signedIn = await loginDevice(hs, user, device);
    return sessionFor(hs, signedIn);
};

async function admin(hs: BedDescription["a"]): Promise<Actor> {
    const user: RegisteredUser = await registerUser(hs, uniqueLocalpart("admin"), { admin: true });
    return sessionFor(hs, user);
}

export async function buildTrialAccount(bed: BedDescription): Promise<TrialAccount> {
    const demo = await seedDemoAccounts(bed, () => undefined, randomDemoAccountSpecs());
    const [alice, aliceNew, bob, carol, adminA, adminB] = await Promise.all([
        asActor(bed.a, demo.users.alice, "trial"),
        asActor(bed.b, demo.users.aliceNew, "trial"),
        asActor(bed.a, demo.users.bob, "trial"),
        asActor(bed.b, demo.users.carol, "trial"),
        admin(bed.a),
        admin(bed.b),
    ]);
    // A plain direct chat bob started (room version 10: alice is no creator, so she may leave it once replaced).
    const plainDmBob = await createRoom(bob, {
        preset: "private_chat",
        is_direct: true,
        invite: [alice.userId],
        room_version: "10",
    });
    await join(alice, plainDmBob);
    const direct =
        (await alice.http.request<Record<string, string[]>>(
            "GET",
            `/user/${seg(alice.userId)}/account_data/m.direct`,
        )) ?? {};
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/account_data/m.direct`, {
        body: { ...direct, [bob.userId]: [...(direct[bob.userId] ?? []), plainDmBob] },
    });
    // A team room bob runs where alice is an admin (she invites, sets the level, and leaves), and one on B where she
    // is an ordinary member.
    const teamRoom = await createRoom(bob, {
        name: "Ops",
        preset: "private_chat",
        room_version: "11",
        invite: [alice.userId],
        power_level_content_override: { users: { [bob.userId]: 100, [alice.userId]: 100 } },
    });
    await join(alice, teamRoom);
    const lobbyOnB = await createRoom(carol, { name: "Lobby B", preset: "public_chat", room_version: "10" });
    await join(alice, lobbyOnB, [bed.b.serverName]);
    await alice.http.request("PUT", `/user/${seg(alice.userId)}/rooms/${seg(teamRoom)}/tags/u.ops`, {
        body: { order: 0.2 },
    });
    await alice.http.request("PUT", "/pushrules/global/content/keyword-incident", {
        body: { pattern: "incident", actions: ["notify"] },
    });
    return {
        demo,
        rooms: { ...demo.rooms, plainDmBob, teamRoom, lobbyOnB },
        alice,
        aliceNew,
        bob,
        carol,
        adminA,
        adminB,
        plainDms: [plainDmBob],
    };
}

/**
 * The CLI's arguments and environment for migrating this account (secrets only in the environment): signing in with
 * the passwords (each run is a new session, as a person rerunning it would be), or with the trial's access tokens.
 */
export function trialCli(
    t: TrialAccount,
    bed: BedDescription,
    signIn: "password" | "token" = "password",
): { args: string[]; env: Record<string, string> } {
    const secrets: Record<string, string> =
        signIn === "password"
            ? {
                  MIGRATE_OLD_PASSWORD: t.demo.users.alice.password,
                  MIGRATE_NEW_PASSWORD: t.demo.users.aliceNew.password,
              }
            : { MIGRATE_OLD_ACCESS_TOKEN: t.alice.accessToken, MIGRATE_NEW_ACCESS_TOKEN: t.aliceNew.accessToken };
    return {
        args: [
            ...["--old-homeserver", bed.a.baseUrl, "--old-user", t.demo.users.alice.userId],
            ...["--new-user", t.demo.users.aliceNew.userId, "--new-homeserver", bed.b.baseUrl],
            ...["--yes", "--leave-old-rooms", "--moved-notice"],
        ],
        env: {
            ...secrets,
            MIGRATE_OLD_RECOVERY_KEY: t.demo.recoveryKeys.alice,
            MIGRATE_NEW_RECOVERY_KEY: t.demo.recoveryKeys.aliceNew,
        },
    };
}
