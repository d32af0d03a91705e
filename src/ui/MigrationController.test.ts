/**
 * @jest-environment jsdom
 */
/**
 * The controller's own logic, with a stand-in runtime (no network: the real one is exercised by the browser flow):
 * secrets are forgotten once used and on Finish, the temporary session is signed out on Finish and on pagehide,
 * pause holds the run's requests, and an interrupted migration is read from the journal.
 */
import { jest } from "@jest/globals";

import type { MigrationReport } from "../engine/migration.ts";
import type { MigrationPlan } from "../engine/plan.ts";
import { englishTranslate } from "../i18n/index.ts";
import type { PageHost } from "./host.ts";
import { MigrationController, unfinishedRuns } from "./MigrationController.ts";
import type { MigrationRuntime, RunCallbacks } from "./runtime.ts";

const account = { userId: "@new:b.example", homeserverUrl: "https://b.example" };
const plan = { oldUserId: "@old:a.example", newUserId: account.userId, rooms: [], pendingInvites: [], optionalAccountData: [], options: { leaveOldRooms: false, movedNotice: false, copyDefaultPushRuleChanges: false, acceptMissingKeys: [] } } as MigrationPlan;

function setUp() {
    let finishRun!: (r: MigrationReport) => void;
    let callbacks!: RunCallbacks;
    const runtime = {
        signIn: jest.fn(async () => account),
        plan: jest.fn(async () => plan),
        keyStatus: jest.fn(async () => ({ oldBackup: true, oldBackupKeyInSession: false, newBackup: true, oldSessionKeys: true })),
        run: jest.fn((_a: unknown, _p: unknown, _c: unknown, cb: RunCallbacks) => {
            callbacks = cb;
            return new Promise<MigrationReport>((resolve) => (finishRun = resolve));
        }),
        signOut: jest.fn(async () => undefined),
        signOutOnPageHide: jest.fn(),
    } as unknown as MigrationRuntime & Record<string, jest.Mock>;
    const progress: unknown[] = [];
    const host: PageHost = {
        t: englishTranslate,
        oldUserId: () => "@old:a.example",
        defaultOptions: {},
        loadRuntime: async () => runtime,
        readJournal: () => undefined,
        watchJournal: () => () => undefined,
        displayName: () => undefined,
        showProgress: (p) => progress.push(p),
        saveFile: () => undefined,
        copyText: async () => undefined,
    };
    return { controller: new MigrationController(host), runtime, progress, finish: (r: MigrationReport) => finishRun(r), callbacks: () => callbacks };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

test("recovery keys go to the run once and are forgotten; Finish signs the temporary session out", async () => {
    const { controller, runtime, finish } = setUp();
    await controller.signIn({ newUserId: account.userId, password: "pw" });
    controller.setKeyChoices({ oldRecoveryKey: "EsTold", newRecoveryKey: "EsTnew" });
    controller.start(false);
    await tick();
    expect((runtime.run as unknown as jest.Mock).mock.calls[0][2]).toEqual({ oldRecoveryKey: "EsTold", newRecoveryKey: "EsTnew", dryRun: false });
    expect(controller.getState().keyChoices).toEqual({});
    finish({ dryRun: false } as MigrationReport);
    await tick();
    expect(controller.getState().stage.name).toBe("report");
    await controller.finish();
    expect(runtime.signOut).toHaveBeenCalledWith(account);
    expect(controller.getState()).toMatchObject({ stage: { name: "sign-in" }, keyChoices: {}, newRecoveryKeyToSave: undefined });
});

test("the page going away signs the temporary session out with a request that outlives it", async () => {
    const { controller, runtime } = setUp();
    await controller.signIn({ newUserId: account.userId, password: "pw" });
    window.dispatchEvent(new Event("pagehide"));
    expect(runtime.signOutOnPageHide).toHaveBeenCalledWith(account);
});

test("pause holds the run's next request until resume; the space-panel entry says paused", async () => {
    const { controller, callbacks, progress } = setUp();
    await controller.signIn({ newUserId: account.userId, password: "pw" });
    controller.start(false);
    await tick();
    controller.pause();
    let released = false;
    void callbacks()
        .whilePaused()
        .then(() => (released = true));
    await tick();
    expect(released).toBe(false);
    expect(progress.at(-1)).toEqual({ done: 0, total: 0, paused: true });
    controller.resume();
    await tick();
    expect(released).toBe(true);
    expect(progress.at(-1)).toEqual({ done: 0, total: 0, paused: false });
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
