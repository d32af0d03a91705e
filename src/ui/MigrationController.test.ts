/**
 * @jest-environment jsdom
 */
/**
 * The controller's own logic, with a stand-in runtime (no network: the real one is exercised by the browser flow and
 * the sign-in tests in tests/signIn): the account is looked up before it signs in, with the method its server offers;
 * a popup opens inside the click; waits can be cancelled; a password goes to its one request and is kept nowhere;
 * the server's approval during recovery set-up; secrets are forgotten once used and on Finish; the temporary session
 * is signed out on Finish and on pagehide; pause holds the run's requests; an interrupted migration is read from the
 * journal and continued with its choices.
 */
import { jest } from "@jest/globals";

import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationPlan, RoomPlan } from "../engine/plan.ts";
import { englishTranslate } from "../i18n/index.ts";
import type { PageHost } from "./host.ts";
import { MigrationController, unfinishedRuns } from "./MigrationController.ts";
import type {
    MigrationRuntime,
    NewAccountSignInInput,
    RecoveryApprovalUi,
    RunCallbacks,
    SignInOffer,
    SignInWindow,
} from "./runtime.ts";

const account = { userId: "@new:b.example", homeserverUrl: "https://b.example" };
const offer: SignInOffer = {
    userId: account.userId,
    baseUrl: account.homeserverUrl,
    methods: [
        { kind: "oauth", deviceGrant: true },
        { kind: "sso", providers: [] },
        { kind: "password" },
        { kind: "token" },
    ],
};
const options = { leaveOldRooms: false, movedNotice: false, copyDefaultPushRuleChanges: false, acceptMissingKeys: [] };
const rooms = ["!a", "!b", "!c"].map((roomId) => ({ roomId, status: "ready", selected: true }) as RoomPlan);
const plan = {
    oldUserId: "@old:a.example",
    newUserId: account.userId,
    rooms,
    pendingInvites: [],
    optionalAccountData: [],
    options,
} as unknown as MigrationPlan;

/** Rejects like the runtime does (a SignInError / KeysError carries a code). */
const failure = (code: string) => Object.assign(new Error(`runtime says ${code}`), { code });

function setUp(journal?: unknown, oldDeviceId = "THISDEVICE") {
    let finishRun!: (r: MigrationReport) => void;
    let callbacks!: RunCallbacks;
    const popup = {
        navigate: jest.fn(),
        isClosed: jest.fn(() => false),
        close: jest.fn(),
    } satisfies SignInWindow;
    const runtime = {
        discover: jest.fn(async () => offer),
        signIn: jest.fn(async (_o: SignInOffer, _i: NewAccountSignInInput) => account),
        plan: jest.fn(async () => plan),
        keyStatus: jest.fn(async () => ({
            oldBackup: true,
            oldBackupKeyInSession: false,
            newBackup: true,
            oldSessionKeys: true,
        })),
        setUpRecovery: jest.fn(async (_a: unknown, _k: string | undefined, _u: RecoveryApprovalUi) => "EsTmade"),
        run: jest.fn((_a: unknown, _p: unknown, _c: unknown, cb: RunCallbacks) => {
            callbacks = cb;
            return new Promise<MigrationReport>((resolve) => (finishRun = resolve));
        }),
        signOut: jest.fn(async () => undefined),
        signOutOnPageHide: jest.fn(),
    };
    const progress: unknown[] = [];
    const host = {
        t: englishTranslate,
        oldUserId: () => "@old:a.example",
        oldDeviceId: () => oldDeviceId,
        defaultOptions: {},
        loadRuntime: async () => runtime as unknown as MigrationRuntime,
        openSignInWindow: jest.fn((): SignInWindow | null => popup),
        readJournal: () => journal,
        watchJournal: () => () => undefined,
        displayName: () => undefined,
        showProgress: (p: unknown) => progress.push(p),
        saveFile: () => undefined,
        copyText: async () => undefined,
    } satisfies PageHost;
    const controller = new MigrationController(host);
    return {
        controller,
        runtime,
        host,
        popup,
        progress,
        finish: (r: MigrationReport) => finishRun(r),
        callbacks: () => callbacks,
    };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const stageOf = (c: MigrationController) => c.getState().stage;

/** Looks the account up and signs it in with its password, up to the plan review. */
async function signInWithPassword(controller: MigrationController, password = "pw"): Promise<void> {
    await controller.findAccount({ newUserId: account.userId });
    controller.signInWith({ method: "password", password });
    await tick();
}

test("the account is looked up first; then its password goes to the one sign-in request and is kept nowhere", async () => {
    const { controller, runtime } = setUp();
    await controller.findAccount({ newUserId: account.userId, homeserverUrl: "https://b.example" });
    expect(runtime.discover).toHaveBeenCalledWith({ newUserId: account.userId, homeserverUrl: "https://b.example" });
    expect(stageOf(controller)).toEqual({
        name: "sign-in",
        target: { newUserId: account.userId, homeserverUrl: "https://b.example" },
        offer,
    });
    expect(runtime.signIn).not.toHaveBeenCalled();
    controller.signInWith({ method: "password", password: "hunter2" });
    await tick();
    expect(runtime.signIn).toHaveBeenCalledWith(offer, { method: "password", password: "hunter2" });
    expect(stageOf(controller)).toMatchObject({ name: "review", account });
    expect(JSON.stringify(controller.getState())).not.toContain("hunter2");
});

test("a lookup that fails leaves the account field with its error; another account can be looked up", async () => {
    const { controller, runtime } = setUp();
    runtime.discover.mockRejectedValueOnce(failure("no-well-known"));
    await controller.findAccount({ newUserId: account.userId });
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in" },
        busy: false,
        error: { code: "no-well-known" },
    });
    expect(stageOf(controller)).not.toHaveProperty("offer");
    await controller.findAccount({ newUserId: account.userId, homeserverUrl: "https://b.example" });
    expect(controller.getState().error).toBeUndefined();
    controller.changeAccount();
    // Back to the field, with what was typed, to correct it.
    expect(stageOf(controller)).toEqual({
        name: "sign-in",
        target: { newUserId: account.userId, homeserverUrl: "https://b.example" },
    });
});

test("single sign-on and OAuth 2.0: the popup opens inside the click, before anything is awaited; the sign-in waits for it", async () => {
    const { controller, runtime, host, popup } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    let back!: () => void;
    runtime.signIn.mockImplementationOnce(() => new Promise((resolve) => (back = () => resolve(account))));
    controller.signInWith({ method: "sso", idpId: "gitlab" });
    // Synchronously: a popup opened after an await would be blocked by the browser.
    expect(host.openSignInWindow).toHaveBeenCalledTimes(1);
    expect(stageOf(controller)).toMatchObject({ name: "sign-in", wait: { kind: "popup" } });
    await tick();
    expect(runtime.signIn).toHaveBeenCalledWith(offer, { method: "sso", idpId: "gitlab", window: popup });
    back();
    await tick();
    expect(stageOf(controller)).toMatchObject({ name: "review", account });
});

test("a blocked popup is said plainly and nothing is started", async () => {
    const { controller, runtime, host } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    host.openSignInWindow.mockReturnValueOnce(null);
    controller.signInWith({ method: "oauth" });
    await tick();
    expect(runtime.signIn).not.toHaveBeenCalled();
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer },
        error: { code: "popup-blocked" },
    });
    expect(stageOf(controller)).not.toHaveProperty("wait", expect.anything());
});

test("cancelling a popup closes it and offers the methods again, without an error", async () => {
    const { controller, runtime, popup } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    // Like the real popup hand-off: a closed window ends the wait with "popup-closed".
    runtime.signIn.mockImplementationOnce(
        () => new Promise((_resolve, reject) => popup.close.mockImplementation(() => reject(failure("popup-closed")))),
    );
    controller.signInWith({ method: "oauth" });
    await tick();
    controller.cancelSignIn();
    await tick();
    expect(popup.close).toHaveBeenCalled();
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer, wait: undefined },
        busy: false,
        error: undefined,
    });
});

test("a sign-in code: the wait shows it when the server gives it; Cancel stops the polling; no error", async () => {
    const { controller, runtime } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    let signal!: AbortSignal;
    runtime.signIn.mockImplementationOnce(async (_o, input) => {
        if (input.method !== "device") throw new Error("expected the device grant");
        signal = input.signal;
        input.onCode({
            userCode: "ABCD-EFGH",
            verificationUri: "https://auth.b.example/device",
            expiresAt: Date.now() + 60_000,
        });
        await new Promise((_resolve, reject) =>
            signal.addEventListener("abort", () => reject(failure("sign-in-cancelled"))),
        );
        return account;
    });
    controller.signInWith({ method: "device" });
    await tick();
    expect(stageOf(controller)).toMatchObject({ wait: { kind: "device", prompt: { userCode: "ABCD-EFGH" } } });
    controller.cancelSignIn();
    await tick();
    expect(signal.aborted).toBe(true);
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer, wait: undefined },
        error: undefined,
    });
});

test("a sign-in the server refuses (another account at the identity provider) stays on the methods with its error", async () => {
    const { controller, runtime } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    runtime.signIn.mockRejectedValueOnce(failure("wrong-account"));
    controller.signInWith({ method: "oauth" });
    await tick();
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer, wait: undefined },
        busy: false,
        error: { code: "wrong-account" },
    });
    expect(runtime.plan).not.toHaveBeenCalled();
});

test("signed in just as the person cancelled: that session is signed out and not used", async () => {
    const { controller, runtime } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    let back!: () => void;
    runtime.signIn.mockImplementationOnce(() => new Promise((resolve) => (back = () => resolve(account))));
    controller.signInWith({ method: "oauth" });
    await tick();
    controller.cancelSignIn();
    back();
    await tick();
    expect(runtime.signOut).toHaveBeenCalledWith(account);
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer, wait: undefined },
        error: undefined,
    });
    window.dispatchEvent(new Event("pagehide"));
    expect(runtime.signOutOnPageHide).not.toHaveBeenCalled();
});

test("cancelled while the plan is made (the popup already closed): that session is signed out too", async () => {
    const { controller, runtime } = setUp();
    await controller.findAccount({ newUserId: account.userId });
    let planned!: () => void;
    runtime.plan.mockImplementationOnce(() => new Promise((resolve) => (planned = () => resolve(plan))));
    controller.signInWith({ method: "sso" });
    await tick();
    controller.cancelSignIn();
    planned();
    await tick();
    expect(runtime.signOut).toHaveBeenCalledWith(account);
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in", offer, wait: undefined },
        error: undefined,
    });
});

test("the server's approval while recovery is set up: the password goes to that one request and is not kept", async () => {
    const { controller, runtime } = setUp();
    await signInWithPassword(controller);
    let given: string | null = null;
    runtime.setUpRecovery.mockImplementationOnce(async (_a, _k, approval) => {
        given = await approval.askPassword();
        return "EsTmade";
    });
    const done = controller.setUpRecovery();
    await tick();
    expect(controller.getState()).toMatchObject({ approval: { kind: "password" }, busy: true });
    controller.approveWithPassword("again-pw");
    await done;
    expect(given).toBe("again-pw");
    expect(controller.getState()).toMatchObject({
        approval: undefined,
        newRecoveryKeyToSave: "EsTmade",
        keyChoices: { newRecoveryKey: "EsTmade" },
        error: undefined,
    });
    expect(JSON.stringify(controller.getState())).not.toContain("again-pw");
});

test("cancelling the approval (password or the server's page) sets nothing up and shows no error", async () => {
    const { controller, runtime } = setUp();
    await signInWithPassword(controller);
    runtime.setUpRecovery.mockImplementationOnce(async (_a, _k, approval) => {
        if ((await approval.askPassword()) === null) throw failure("approval_needed");
        return "EsTmade";
    });
    let done = controller.setUpRecovery();
    await tick();
    controller.cancelApproval();
    await done;
    expect(controller.getState()).toMatchObject({ approval: undefined, error: undefined, busy: false });
    expect(controller.getState().newRecoveryKeyToSave).toBeUndefined();

    let signal!: AbortSignal;
    runtime.setUpRecovery.mockImplementationOnce(async (_a, _k, approval) => {
        signal = approval.signal;
        approval.showApprovalPage("https://auth.b.example/account?action=org.matrix.cross_signing_reset");
        await new Promise((_resolve, reject) =>
            signal.addEventListener("abort", () => reject(failure("approval_needed"))),
        );
        return "EsTmade";
    });
    done = controller.setUpRecovery();
    await tick();
    expect(controller.getState().approval).toEqual({
        kind: "page",
        url: "https://auth.b.example/account?action=org.matrix.cross_signing_reset",
    });
    controller.cancelApproval();
    await done;
    expect(signal.aborted).toBe(true);
    expect(controller.getState()).toMatchObject({ approval: undefined, error: undefined });
    expect(controller.getState().newRecoveryKeyToSave).toBeUndefined();
});

test("approved on the server's page: the set-up finishes by itself and the prompt goes away", async () => {
    const { controller, runtime } = setUp();
    await signInWithPassword(controller);
    let approved!: () => void;
    runtime.setUpRecovery.mockImplementationOnce(async (_a, _k, approval) => {
        approval.showApprovalPage("https://b.example/_matrix/client/v3/auth/m.login.sso/fallback/web?session=s");
        await new Promise<void>((resolve) => (approved = resolve));
        return "EsTmade";
    });
    const done = controller.setUpRecovery();
    await tick();
    expect(controller.getState().approval).toMatchObject({ kind: "page" });
    approved();
    await done;
    expect(controller.getState()).toMatchObject({ approval: undefined, newRecoveryKeyToSave: "EsTmade" });
});

test("recovery keys go to the run once and are forgotten; Finish signs the temporary session out", async () => {
    const { controller, runtime, finish } = setUp();
    await signInWithPassword(controller);
    controller.setKeyChoices({ oldRecoveryKey: "EsTold", newRecoveryKey: "EsTnew" });
    controller.start(false);
    await tick();
    expect(runtime.run.mock.calls[0][2]).toEqual({ oldRecoveryKey: "EsTold", newRecoveryKey: "EsTnew", dryRun: false });
    expect(controller.getState().keyChoices).toEqual({});
    finish({ dryRun: false } as MigrationReport);
    await tick();
    expect(stageOf(controller).name).toBe("report");
    await controller.finish();
    expect(runtime.signOut).toHaveBeenCalledWith(account);
    expect(controller.getState()).toMatchObject({
        stage: { name: "sign-in" },
        keyChoices: {},
        newRecoveryKeyToSave: undefined,
    });
    expect(stageOf(controller)).not.toHaveProperty("offer", expect.anything());
});

test("the page going away signs the temporary session out with a request that outlives it", async () => {
    const { controller, runtime } = setUp();
    await signInWithPassword(controller);
    window.dispatchEvent(new Event("pagehide"));
    expect(runtime.signOutOnPageHide).toHaveBeenCalledWith(account);
});

test("pause holds the run's next request until resume; the space-panel entry says paused", async () => {
    const { controller, callbacks, progress } = setUp();
    await signInWithPassword(controller);
    controller.start(false);
    await tick();
    controller.pause();
    let released = false;
    void callbacks()
        .whilePaused()
        .then(() => (released = true));
    await tick();
    expect(released).toBe(false);
    expect(progress.at(-1)).toEqual({ done: 0, total: 3, paused: true });
    controller.resume();
    await tick();
    expect(released).toBe(true);
    expect(progress.at(-1)).toEqual({ done: 0, total: 3, paused: false });
});

test("continuing an interrupted migration: the journal's account, then its rooms and options chosen again", async () => {
    const choices = { rooms: ["!a", "!c"], options: { ...options, leaveOldRooms: true }, settings: [] };
    const { controller, runtime } = setUp({
        version: 1,
        migrations: {
            [account.userId]: { startedAt: 1, updatedAt: 2, rooms: { "!a": { c: 0 } }, account: {}, choices },
        },
    });
    const [run] = controller.getState().unfinished;
    expect(run).toMatchObject({ newUserId: account.userId, roomsDone: 1 });
    controller.continueRun(run);
    await controller.findAccount({ newUserId: account.userId });
    expect(stageOf(controller)).toMatchObject({ continuing: run, offer });
    controller.signInWith({ method: "password", password: "pw" });
    await tick();
    const stage = stageOf(controller);
    if (stage.name !== "review") throw new Error(`still ${stage.name}`);
    expect(stage.continuing).toBe(run);
    expect(stage.plan.rooms.map((r) => [r.roomId, r.selected])).toEqual([
        ["!a", true],
        ["!b", false],
        ["!c", true],
    ]);
    expect(stage.plan.options.leaveOldRooms).toBe(true);
    expect(runtime.plan).toHaveBeenCalledTimes(1);
});

test("the journal's unfinished migrations (with their choices) are offered; finished or malformed ones are not", () => {
    const choices = { rooms: ["!a", "!b"], options: plan.options, settings: [] };
    expect(
        unfinishedRuns({
            version: 1,
            migrations: {
                "@new:b.example": { startedAt: 1, updatedAt: 2, rooms: { "!a": { c: 0 } }, account: {}, choices },
                "@done:b.example": { startedAt: 1, updatedAt: 2, finishedAt: 3, rooms: {}, account: {}, choices },
                "@old-format:b.example": { startedAt: 1, updatedAt: 2, rooms: {}, account: {} },
            },
        }),
    ).toEqual([{ newUserId: "@new:b.example", startedAt: 1, roomsDone: 1, choices }]);
    expect(unfinishedRuns({ version: 2 })).toEqual([]);
    expect(unfinishedRuns("nonsense")).toEqual([]);
});

test("issue 15.7: a journal whose accepted losses are a string (not a list) accepts no room's losses when continued", async () => {
    const choices = {
        rooms: ["!a", "!b"],
        options: { ...options, leaveOldRooms: true, acceptMissingKeys: "!a !b" },
        settings: "x",
    };
    const { controller } = setUp({
        version: 1,
        migrations: { [account.userId]: { startedAt: 1, updatedAt: 2, rooms: {}, account: {}, choices } },
    });
    const [run] = controller.getState().unfinished;
    expect(run.choices.options.acceptMissingKeys).toEqual([]);
    controller.continueRun(run);
    await controller.findAccount({ newUserId: account.userId });
    controller.signInWith({ method: "password", password: "pw" });
    await tick();
    const stage = stageOf(controller);
    if (stage.name !== "review") throw new Error(`still ${stage.name}`);
    expect(stage.plan.options.acceptMissingKeys).toEqual([]);
    // On the string, `includes(roomId)` was a substring test: true for both rooms.
    expect(stage.plan.rooms.every((r) => !stage.plan.options.acceptMissingKeys.includes(r.roomId))).toBe(true);
    expect(stage.plan.options.leaveOldRooms).toBe(true);
});

test("issue 15.7: a journal whose rooms are a string is not offered to continue", () => {
    expect(
        unfinishedRuns({
            version: 1,
            migrations: {
                [account.userId]: {
                    startedAt: 1,
                    updatedAt: 2,
                    rooms: {},
                    account: {},
                    choices: { rooms: "!a", options, settings: [] },
                },
            },
        }),
    ).toEqual([]);
});

describe("issue 15.7: a migration running on another device (its heartbeat in the journal)", () => {
    const choices = { rooms: ["!a", "!b"], options, settings: [] };
    const journalBeating = (secondsAgo: number, device: string) => ({
        version: 1,
        migrations: {
            [account.userId]: {
                startedAt: 1,
                updatedAt: 2,
                rooms: { "!a": { c: 0 } },
                account: {},
                choices,
                heartbeatAt: Math.floor(Date.now() / 1000) - secondsAgo,
                heartbeatDevice: device,
            },
        },
    });

    afterEach(() => jest.useRealTimers());

    test("is shown as running elsewhere and cannot be continued here", () => {
        const { controller } = setUp(journalBeating(10, "CLIDEVICE"));
        const [run] = controller.getState().unfinished;
        expect(run.elsewhere).toMatchObject({ deviceId: "CLIDEVICE" });
        controller.continueRun(run);
        expect(stageOf(controller)).toEqual({ name: "sign-in" });
    });

    test("its own heartbeat (this device) or a stale one is an interrupted migration, offered to continue", () => {
        expect(setUp(journalBeating(10, "THISDEVICE")).controller.getState().unfinished[0].elsewhere).toBeUndefined();
        const stale = setUp(journalBeating(120, "CLIDEVICE")).controller;
        const [run] = stale.getState().unfinished;
        expect(run.elsewhere).toBeUndefined();
        stale.continueRun(run);
        expect(stageOf(stale)).toMatchObject({ continuing: run });
    });

    test("once its heartbeat stops, the page offers to continue by itself (no new journal needed)", () => {
        jest.useFakeTimers({ now: Date.now() });
        const { controller } = setUp(journalBeating(10, "CLIDEVICE"));
        expect(controller.getState().unfinished[0].elsewhere).toBeDefined();
        jest.advanceTimersByTime(70_000);
        expect(controller.getState().unfinished[0].elsewhere).toBeDefined();
        jest.advanceTimersByTime(15_000);
        expect(controller.getState().unfinished[0].elsewhere).toBeUndefined();
    });

    test("dispose stops the timer that would look again once the heartbeat stops", () => {
        jest.useFakeTimers({ now: Date.now() });
        const { controller } = setUp(journalBeating(10, "CLIDEVICE"));
        expect(jest.getTimerCount()).toBe(1);
        controller.dispose();
        expect(jest.getTimerCount()).toBe(0);
    });
});

test("dispose releases the journal watcher and the pagehide listener (they were never released before)", async () => {
    const { host, runtime } = setUp();
    const unwatch = jest.fn();
    const controller = new MigrationController({ ...host, watchJournal: () => unwatch });
    await signInWithPassword(controller);
    controller.dispose();
    expect(unwatch).toHaveBeenCalledTimes(1);
    window.dispatchEvent(new Event("pagehide"));
    expect(runtime.signOutOnPageHide).not.toHaveBeenCalled();
});
