/**
 * Shared by the sign-in tests: a small old account to migrate, the loopback identity providers' sign-in form, the
 * module's page driven by role and label, and the admin's view of an account's devices.
 */

import type { Page } from "playwright-core";

import { type ServerApproval, uploadWithApproval } from "../../src/keys/recoverySetup.ts";
import { MatrixHttp, seg } from "../../src/sessions/matrixHttp.ts";
import type { SignedInSession } from "../../src/sessions/session.ts";
import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
export { startCli } from "../cli/cliProcess.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { type Actor, createRoom, getState, sessionFor } from "../support/scenario.ts";

export interface SmallAccount {
    alice: Actor;
    rooms: Record<string, string>;
}

/**
 * An old account on A with rooms it created: a public one (joined directly), an invite-only one, and `morePublic`
 * more public rooms (a run that must last a while).
 */
export async function smallOldAccount(morePublic = 0): Promise<SmallAccount> {
    const bed = currentBed();
    const user = await registerUser(bed.a, uniqueLocalpart("alice"), { displayName: "Alice" });
    const alice = sessionFor(bed.a, user);
    const rooms: Record<string, string> = {
        publicChat: await createRoom(alice, { name: "Public chat", preset: "public_chat", visibility: "private" }),
        team: await createRoom(alice, { name: "Team", preset: "private_chat" }),
    };
    for (let i = 0; i < morePublic; i++)
        rooms[`public${i}`] = await createRoom(alice, {
            name: `Public ${i}`,
            preset: "public_chat",
            visibility: "private",
        });
    return { alice, rooms };
}

/** The new account's membership in each room, as the old account's server sees it. */
export async function membershipsOf(small: SmallAccount, newUserId: string): Promise<Record<string, string | null>> {
    const out: Record<string, string | null> = {};
    for (const [name, roomId] of Object.entries(small.rooms)) {
        const m = await getState<{ membership?: string }>(small.alice, roomId, "m.room.member", newUserId).catch(
            () => ({ membership: undefined }),
        );
        out[name] = m.membership ?? null;
    }
    return out;
}

/** Signs in on the loopback identity provider's page (or refuses with "Cancel"). */
export async function signInAtProvider(page: Page, userName: string | null): Promise<void> {
    if (userName === null) {
        await page.getByRole("button", { name: "Cancel" }).click();
        return;
    }
    await page.getByLabel("User name").fill(userName);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** Devices of a user, through the server's admin API. */
export async function devicesOf(
    baseUrl: string,
    adminToken: string,
    userId: string,
): Promise<Array<{ device_id: string; display_name?: string }>> {
    const http = new MatrixHttp(baseUrl, adminToken);
    const { devices } = await http.request<{ devices: Array<{ device_id: string; display_name?: string }> }>(
        "GET",
        `/users/${seg(userId)}/devices`,
        { prefix: "/_synapse/admin/v2" },
    );
    return devices;
}

export function localpartOf(userId: string): string {
    return userId.slice(1, userId.indexOf(":"));
}

/** Signs the old account in to the host's Element (its own login form), and waits until Element has synced. */
export async function signInToElement(
    page: Page,
    hostUrl: string,
    old: { userId: string; password: string },
): Promise<void> {
    await page.goto(hostUrl);
    await page.getByLabel("Username").fill(old.userId);
    await page.getByLabel("Password").fill(old.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("host-user").waitFor({ timeout: 30_000 });
}

/** The host page (the project's Element stand-in) signed in as `old`, showing the migration page. */
export async function openMigrationPage(
    page: Page,
    hostUrl: string,
    old: { userId: string; password: string },
): Promise<void> {
    await signInToElement(page, hostUrl, old);
    await page.evaluate(() => (window.location.hash = "#/migrate-account"));
    await page.getByRole("heading", { name: "Sign in to the new account" }).waitFor();
}

/** Types the new account on the page; gives its homeserver address when the page asks (no trusted .well-known). */
export async function findNewAccount(page: Page, newUserId: string, homeserverUrl: string): Promise<void> {
    await page.getByLabel(/New account/).fill(newUserId);
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    const homeserver = page.getByLabel(/Its homeserver address/);
    const methods = page.getByTestId("migration-sign-in-methods");
    await Promise.race([homeserver.waitFor(), methods.waitFor()]);
    if (await homeserver.isVisible()) {
        await homeserver.fill(homeserverUrl);
        await page.getByRole("button", { name: "Continue", exact: true }).click();
    }
    await methods.waitFor();
}

/** Signs the new account in with its password (its server found first, as `findNewAccount`), up to the plan review. */
export async function signInWithPassword(
    page: Page,
    neu: { userId: string; password: string },
    homeserverUrl: string,
): Promise<void> {
    await findNewAccount(page, neu.userId, homeserverUrl);
    await givePassword(page, neu.password);
}

/**
 * Continuing a run from the journal, the account field holds the journal's account (read-only): Continue, give its
 * server's address, sign in with the password, up to the plan review.
 */
export async function signInToContinue(page: Page, homeserverUrl: string, password: string): Promise<void> {
    const homeserver = page.getByRole("textbox", { name: "Its homeserver address" });
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    await homeserver.waitFor();
    await homeserver.fill(homeserverUrl);
    await page.getByRole("button", { name: "Continue", exact: true }).click();
    await givePassword(page, password);
}

async function givePassword(page: Page, password: string): Promise<void> {
    await page.getByRole("textbox", { name: "Password of the new account" }).fill(password);
    await page.getByRole("button", { name: "Sign in to the new account" }).click();
    await page.getByRole("heading", { name: "Review the plan", exact: true }).waitFor({ timeout: 60_000 });
}

/** Types the recovery keys into the plan review's keys panel (an absent one leaves its field empty). */
export async function giveKeys(page: Page, keys: { old?: string; new?: string }): Promise<void> {
    await page.getByRole("textbox", { name: "Recovery key of the old account (optional)" }).fill(keys.old ?? "");
    await page.getByRole("textbox", { name: "Recovery key of the new account" }).fill(keys.new ?? "");
}

/** Clicks a sign-in button that opens a popup, and returns the popup. */
export async function clickForPopup(page: Page, name: string | RegExp): Promise<Page> {
    const popup = page.waitForEvent("popup");
    await page.getByRole("button", { name }).click();
    return popup;
}

/** Waits for the plan review (the new account signed in and planned). */
export async function planReview(page: Page): Promise<void> {
    await page.getByRole("heading", { name: "Review the plan" }).waitFor({ timeout: 30_000 });
}

/** The report's rooms per outcome, as one line: "2 moved, 0 already done, 0 need action, 0 skipped, 0 failed". */
async function reportSummary(page: Page): Promise<string> {
    const rooms = async (group: string) => {
        const region = page.getByRole("region", { name: group, exact: true });
        return (await region.count()) ? region.getByRole("listitem").count() : 0;
    };
    const [moved, already, needsAction, skipped, failed] = await Promise.all(
        ["Moved", "Already done", "Needs action", "Skipped", "Failed"].map(rooms),
    );
    return `${moved} moved, ${already} already done, ${needsAction} need action, ${skipped} skipped, ${failed} failed`;
}

/** From the plan review: runs the migration and finishes (which signs the temporary session out). */
export async function runAndFinish(page: Page): Promise<string> {
    await planReview(page);
    await page.getByRole("button", { name: "Start migration" }).click();
    await page.getByRole("heading", { name: "Done" }).waitFor({ timeout: 100_000 });
    const summary = await reportSummary(page);
    await page.getByRole("button", { name: "Finish" }).click();
    await page.getByRole("heading", { name: "Sign in to the new account" }).waitFor();
    return summary;
}

/**
 * A crypto session on a signed-in session's own device (real matrix-js-sdk with Rust crypto, in memory) that can
 * create cross-signing keys and then replace them — the upload a server may want approved.
 */
export async function crossSigningOn(
    session: SignedInSession,
): Promise<{ bootstrap(reset: boolean, approval?: ServerApproval): Promise<void>; stop(): Promise<void> }> {
    const sdk = await import("matrix-js-sdk/lib/matrix.js");
    const client = sdk.createClient({
        baseUrl: session.baseUrl,
        userId: session.userId,
        deviceId: session.deviceId,
        accessToken: session.accessToken(),
        fetchFn: session.fetch,
    });
    await client.initRustCrypto({ useIndexedDB: false });
    return {
        bootstrap: (reset, approval) =>
            client.getCrypto()!.bootstrapCrossSigning({
                setupNewCrossSigning: reset,
                authUploadDeviceSigningKeys: (makeRequest) =>
                    uploadWithApproval(makeRequest, session.baseUrl, session.userId, approval),
            }),
        async stop() {
            await client
                .getCrypto()
                ?.getKeyBackupInfo()
                .catch(() => undefined);
            client.stopClient();
        },
    };
}
