/**
 * The built entry (dist/module/index.js), loaded through the real ModuleLoader from the npm package, registers its
 * page, space-panel entry, composer preview and strings, and stays light (no matrix-js-sdk, no crypto WASM).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { jest } from "@jest/globals";
import React from "react";
import { type Api, ModuleLoader } from "@element-hq/element-web-module-api";

import { CONFIG_KEY } from "../../src/config.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";
import { recordingApi } from "../support/mockApi.ts";

const ENTRY = path.join(PROJECT_ROOT, "dist", "module", "index.js");

async function loadBuiltModule(api: Api): Promise<void> {
    // Element sets window.React before importing modules; the module takes React from there.
    (globalThis as Record<string, unknown>).window = globalThis;
    (globalThis as Record<string, unknown>).React = React;
    const loader = new ModuleLoader(api);
    await loader.load(await import(pathToFileURL(ENTRY).href));
    await loader.start();
}

test("through the real ModuleLoader, the built entry registers its page, entry, composer preview and strings", async () => {
    const { api, recorded } = recordingApi({});
    await loadBuiltModule(api);

    expect([...recorded.renderers.keys()]).toEqual(["migrate-account"]);
    expect([...recorded.spaceItems.values()].map((i) => i.label)).toEqual(["Migrate account"]);
    expect(recorded.previews).toHaveLength(1);
    expect(recorded.previews[0]("/migrate @new:example.org", "!room")).toBe(true);
    expect(recorded.previews[0]("/migrate", "!room")).toBe(true); // shown, to explain what is missing
    expect(recorded.previews[0]("hello /migrate", "!room")).toBe(false);
    expect(recorded.translations["entry|label"]).toEqual({ en: "Migrate account", de: "Konto umziehen" });
    // The page's strings come with the page chunk, not at Element's start-up.
    expect(recorded.translations["review|heading"]).toBeUndefined();
});

test("options turn the space-panel entry and composer preview off", async () => {
    const { api, recorded } = recordingApi({ [CONFIG_KEY]: { space_panel_entry: false, composer_command: false } });
    await loadBuiltModule(api);
    expect(recorded.renderers.size).toBe(1);
    expect(recorded.spaceItems.size).toBe(0);
    expect(recorded.previews).toHaveLength(0);
});

test("an invalid config disables the module with one clear log line and does not break Element", async () => {
    const { api, recorded } = recordingApi({ [CONFIG_KEY]: { allowed_target_servers: "example.org" } });
    const errors: unknown[][] = [];
    const spy = jest.spyOn(console, "error").mockImplementation((...args: unknown[]) => void errors.push(args));
    try {
        await loadBuiltModule(api); // must not throw: Element would show "misconfigured" to everyone
    } finally {
        spy.mockRestore();
    }
    expect(recorded.renderers.size).toBe(0);
    expect(errors).toHaveLength(1);
    expect(String(errors[0][0])).toMatch(/disabled: .*allowed_target_servers/);
});

test("the entry file holds no matrix-js-sdk or crypto code and none of the page's strings (they load later)", () => {
    const source = readFileSync(ENTRY, "utf8");
    const sdkMarkers = ["matrix_sdk_crypto_wasm", "Multiple matrix-js-sdk entrypoints", "/_matrix/client/"];
    expect(sdkMarkers.filter((marker) => source.includes(marker))).toEqual([]);
    // Nor the page's strings (a review heading, in both languages).
    expect(["Review the plan", "Den Plan prüfen"].filter((text) => source.includes(text))).toEqual([]);
    expect(/export\s*\{[^}]*as default/.test(source)).toBe(true);
});
