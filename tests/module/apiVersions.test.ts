/**
 * The built module through the real `ModuleLoader` of every published `@element-hq/element-web-module-api` release
 * that installs beside React 19 (each under an npm alias): the releases with the hooks the module needs (a location
 * renderer for its page, from 1.9) load it and get the page; older ones refuse it by its declared version range,
 * instead of loading a module that could show nothing. (0.1.1, for React 18, cannot be installed beside React 19;
 * it has none of the hooks either.) The Api given to each loader has only the hooks that release declares.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

import React from "react";

import { PROJECT_ROOT } from "../bed/paths.ts";
import { recordingApi } from "../support/mockApi.ts";

const ENTRY = path.join(PROJECT_ROOT, "dist", "module", "index.js");

type Loader = { new (api: unknown): { load(m: unknown): Promise<void>; start(): Promise<void> } };
const RELEASES: Record<
    string,
    () => Promise<{ ModuleLoader: Loader; ModuleIncompatibleError: new (...a: never[]) => Error }>
> = {
    "1.3.0": () => import("module-api-1.3.0") as never,
    "1.4.1": () => import("module-api-1.4.1") as never,
    "1.9.0": () => import("module-api-1.9.0") as never,
    "1.14.0": () => import("module-api-1.14.0") as never,
    "2.0.0": () => import("module-api-2.0.0") as never,
    "2.1.0": () => import("@element-hq/element-web-module-api") as never,
};

/** Which hooks a release declares, read from its own type declarations. */
function declaredHooks(version: string): { page: boolean; spacePanel: boolean; composerPreview: boolean } {
    const dir = version === "2.1.0" ? "@element-hq/element-web-module-api" : `module-api-${version}`;
    const types = readFileSync(
        path.join(PROJECT_ROOT, "node_modules", dir, "lib", "element-web-module-api-alpha.d.ts"),
        "utf8",
    );
    return {
        page: types.includes("registerLocationRenderer("),
        spacePanel: types.includes("setSpacePanelItem("),
        composerPreview: types.includes("registerComposerPreview("),
    };
}

beforeAll(() => {
    (globalThis as Record<string, unknown>).window = globalThis;
    (globalThis as Record<string, unknown>).React = React;
});

test.each(Object.keys(RELEASES))(
    "module API %s: loads exactly when it has the page's hook, and registers what it offers",
    async (version) => {
        const { ModuleLoader, ModuleIncompatibleError } = await RELEASES[version]();
        const hooks = declaredHooks(version);
        const { api, recorded } = recordingApi({}, hooks);
        const loader = new ModuleLoader(api);
        const moduleExport = await import(pathToFileURL(ENTRY).href);
        if (!hooks.page) {
            await expect(loader.load(moduleExport)).rejects.toBeInstanceOf(ModuleIncompatibleError);
            return;
        }
        await loader.load(moduleExport);
        await loader.start();
        expect({
            pages: [...recorded.renderers.keys()],
            spaceItems: [...recorded.spaceItems.keys()],
            previews: recorded.previews.length,
        }).toEqual({
            pages: ["migrate-account"],
            spaceItems: hooks.spacePanel ? ["io.github.matrix_account_migration.entry"] : [],
            previews: hooks.composerPreview ? 1 : 0,
        });
    },
);
