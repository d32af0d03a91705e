/**
 * The release tarball as an admin gets it: `npm pack` into an empty folder, then a plain `npm install <tarball>` into
 * another empty folder. The CLI bundle is rebuilt (seconds); dist/module/ is the one `npm test` (or `npm run build`)
 * just built, so the tests do not run webpack a second time (`npm pack` alone does, through `prepack`).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { PROJECT_ROOT } from "../bed/paths.ts";

export interface InstalledRelease {
    tarball: string;
    /** Every path in the tarball, without its `package/` prefix. */
    files: string[];
    /** The folder it was installed into (its node_modules holds the package). */
    dir: string;
    packageDir: string;
}

/** Only PATH (Node 22 first) and HOME: no npm_config_* of the running `npm test` may change what npm does. */
export function cleanEnv(): Record<string, string> {
    return { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir() };
}

export function installRelease(): InstalledRelease {
    if (!existsSync(path.join(PROJECT_ROOT, "dist", "module", "index.js")))
        throw new Error("dist/module/ is missing: run `npm run build` first.");
    const env = cleanEnv();
    execFileSync("tsx", ["scripts/release.ts", "--bundle-only"], { cwd: PROJECT_ROOT, env, stdio: "pipe" });
    const packDir = mkdtempSync(path.join(tmpdir(), "migrate-pack-"));
    const packed = JSON.parse(
        execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir], {
            cwd: PROJECT_ROOT,
            env,
            encoding: "utf8",
        }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = path.join(packDir, packed[0].filename);
    const dir = mkdtempSync(path.join(tmpdir(), "migrate-install-"));
    writeFileSync(path.join(dir, "package.json"), "{}\n");
    execFileSync("npm", ["install", "--no-audit", "--no-fund", tarball], { cwd: dir, env, stdio: "pipe" });
    return {
        tarball,
        files: packed[0].files.map((f) => f.path),
        dir,
        packageDir: path.join(dir, "node_modules", "matrix-account-migration"),
    };
}
