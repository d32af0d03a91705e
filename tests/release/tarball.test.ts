/**
 * The release tarball installed into an empty folder with a plain `npm install <tarball>`, as an admin would: it needs
 * nothing else (no dependency, so no registry), its CLI runs through `npx`, its module loads through Element's real
 * ModuleLoader, and the docker/ example copies files that are in it.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

import React from "react";
import { type Api, ModuleLoader } from "@element-hq/element-web-module-api";
import { parse } from "yaml";

import { PROJECT_ROOT } from "../bed/paths.ts";
import { cleanEnv, type InstalledRelease, installRelease } from "./installRelease.ts";

const packageJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
const moduleYaml = parse(readFileSync(path.join(PROJECT_ROOT, "module.yaml"), "utf8"));
let release: InstalledRelease;

beforeAll(() => {
    release = installRelease();
}, 300_000);

test("the tarball is named for this version and holds the module, the one-file CLI, module.yaml, the docs, the docker example, LICENSE and CHANGELOG — no sources or tests", () => {
    expect(path.basename(release.tarball)).toBe(`matrix-account-migration-${packageJson.version}.tgz`);
    for (const file of [
        "dist/module/index.js",
        "dist/module/callback.html",
        "dist/bin/matrix-account-migrate.js",
        "module.yaml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "docs/admin.md",
        "docker/Dockerfile",
        "package.json",
    ])
        expect({ file, present: release.files.includes(file) }).toEqual({ file, present: true });
    expect(release.files.filter((f) => /^(src|tests|host|scripts|bench|node_modules)\//.test(f))).toEqual([]);
    // The CLI is one file: no chunks beside it.
    expect(release.files.filter((f) => f.startsWith("dist/bin/"))).toEqual(["dist/bin/matrix-account-migrate.js"]);
    expect(readFileSync(path.join(PROJECT_ROOT, "CHANGELOG.md"), "utf8")).toContain(`## ${packageJson.version}`);
});

test("installed with a plain npm install, it brings no other package: the CLI needs none at run time", () => {
    expect(readdirSync(path.join(release.dir, "node_modules")).filter((n) => !n.startsWith("."))).toEqual([
        "matrix-account-migration",
    ]);
    const installed = JSON.parse(readFileSync(path.join(release.packageDir, "package.json"), "utf8"));
    expect(installed.dependencies ?? {}).toEqual({});
    expect(installed.private).toBeUndefined();
    expect(installed.engines).toEqual({ node: ">=22" });
    expect(installed.bin).toEqual({ "matrix-account-migrate": "dist/bin/matrix-account-migrate.js" });
    // Only Node's own modules are imported by the bundle.
    const source = readFileSync(path.join(release.packageDir, "dist/bin/matrix-account-migrate.js"), "utf8");
    const imported = [
        ...source.matchAll(/^import [^;\n]*?from "([^"\n]+)"|\bimport\("([^"\n]+)"\)|\brequire\("([^"\n]+)"\)/gm),
    ].map((m) => m[1] ?? m[2] ?? m[3]);
    expect(imported).toContain("node:fs");
    expect([...new Set(imported.filter((name) => !name.startsWith("node:") && name !== "events"))]).toEqual([]);
});

test("`npx matrix-account-migrate --help` runs from the install folder", () => {
    const help = execFileSync("npx", ["--no-install", "matrix-account-migrate", "--help"], {
        cwd: release.dir,
        env: cleanEnv(),
        encoding: "utf8",
    });
    expect(help).toMatch(/^Usage: matrix-account-migrate --old-homeserver URL --new-user @name:server/);
    expect(help).toMatch(/--set-up-new-backup/);
});

test("the installed dist/module/index.js loads through the real ModuleLoader and registers its page and entry", async () => {
    (globalThis as Record<string, unknown>).window = globalThis;
    (globalThis as Record<string, unknown>).React = React;
    const recorded = { pages: [] as string[], labels: [] as string[] };
    const api = {
        config: { get: () => undefined },
        i18n: { language: "en", register: () => undefined, translate: (key: string) => key },
        navigation: { registerLocationRenderer: (p: string) => recorded.pages.push(p) },
        extras: { setSpacePanelItem: (_key: string, item: { label: string }) => recorded.labels.push(item.label) },
        customComponents: { registerComposerPreview: () => undefined },
    } as unknown as Api;
    const loader = new ModuleLoader(api);
    await loader.load(await import(pathToFileURL(path.join(release.packageDir, "dist/module/index.js")).href));
    await loader.start();
    expect(recorded).toEqual({ pages: ["migrate-account"], labels: ["entry|label"] });
});

describe("docker/ (an example that cannot be built here: no Docker daemon)", () => {
    const dockerfile = readFileSync(path.join(PROJECT_ROOT, "docker", "Dockerfile"), "utf8");
    const copies = [...dockerfile.matchAll(/^COPY\s+(\S+)\s+(\S+)\s*$/gm)].map((m) => ({ from: m[1], to: m[2] }));

    test("every package/ path the Dockerfile copies is in the tarball", () => {
        const fromTarball = copies.filter((c) => c.from.startsWith("package/"));
        expect(fromTarball.length).toBeGreaterThan(0);
        for (const { from } of fromTarball) {
            const inPackage = from.slice("package/".length);
            const present = inPackage.endsWith("/")
                ? release.files.some((f) => f.startsWith(inPackage))
                : release.files.includes(inPackage);
            expect({ from, present }).toEqual({ from, present: true });
        }
        // What Element imports is in the copied folder.
        expect(release.files).toContain("dist/module/index.js");
    });

    test("its config.json loads index.js from where the module folder is copied, with module.yaml's settings", () => {
        const config = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "docker", "config.json"), "utf8"));
        const moduleCopy = copies.find((c) => c.from === "package/dist/module/");
        expect(moduleCopy?.to).toMatch(/^\/app\//); // the image serves Element from /app
        const url = `${moduleCopy!.to.slice("/app".length).replace(/\/$/, "")}/index.js`;
        expect(config.modules).toEqual([url]);
        const snippet = JSON.parse(`{${moduleYaml.config_json_snippet}}`);
        expect(config.modules).toEqual(snippet.modules);
        expect(config[moduleYaml.config.key]).toEqual(snippet[moduleYaml.config.key]);
        expect(copies.find((c) => c.from === "config.json")?.to).toBe("/app/config.json");
    });
});
