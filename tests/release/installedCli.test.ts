/**
 * The CLI from the installed release tarball (one bundled file, its crypto WASM inside) migrates a small account
 * between the two real servers, setting up the new account's key backup — which runs matrix-js-sdk's Rust crypto
 * from the bundle's embedded WASM.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { registerUser, uniqueLocalpart } from "../bed/homeservers.ts";
import { currentBed } from "../bed/jestGlobal.ts";
import { startCli } from "../cli/cliProcess.ts";
import { membershipsOf, smallOldAccount } from "../signIn/support.ts";
import { cliArgs } from "../support/cli.ts";
import { installRelease } from "./installRelease.ts";

test("the installed CLI migrates a small account with a password sign-in and sets up the new account's recovery", async () => {
    const { packageDir } = installRelease();
    const bed = currentBed();
    const small = await smallOldAccount();
    const neu = await registerUser(bed.b, uniqueLocalpart("neu"));
    const report = path.join(mkdtempSync(path.join(tmpdir(), "migrate-release-")), "report.json");
    const cli = startCli(
        cliArgs(
            { oldHomeserver: small.alice.homeserver.baseUrl, newUser: neu.userId, newHomeserver: bed.b.baseUrl },
            ...["--new-sign-in", "password", "--set-up-new-backup", "--yes", "--report", report],
        ),
        { MIGRATE_OLD_ACCESS_TOKEN: small.alice.accessToken, MIGRATE_NEW_PASSWORD: neu.password },
        { cli: path.join(packageDir, "dist", "bin", "matrix-account-migrate.js") },
    );
    const result = await cli.done;
    expect({ code: result.code, stderr: result.stderr }).toEqual({
        code: 0,
        stderr: expect.stringMatching(/2 migrated, 0 already done, 0 need action, 0 skipped, 0 failed/),
    });
    expect(result.stderr).toMatch(/Recovery was set up for/);
    const written = JSON.parse(readFileSync(report, "utf8"));
    expect(written.rooms.map((r: { outcome: string }) => r.outcome)).toEqual(["migrated", "migrated"]);
    expect(written.keys.backupVersion).toEqual(expect.any(String));
    expect(await membershipsOf(small, neu.userId)).toEqual({ publicChat: "join", team: "join" });
}, 300_000);
