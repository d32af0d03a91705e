/** A session of an account made the way the migration makes one: discovery, then a password sign-in. For tests. */
import { discoverSignIn } from "../../src/sessions/discovery.ts";
import type { SignedInSession } from "../../src/sessions/session.ts";
import { signIn } from "../../src/sessions/signIn.ts";

export async function passwordSession(
    baseUrl: string,
    user: { userId: string; password: string },
    deviceName = "Account migration (test)",
): Promise<SignedInSession> {
    return signIn(
        await discoverSignIn(user.userId, baseUrl),
        { method: "password", password: user.password },
        { deviceName },
    );
}
