/**
 * Account migration for Element Web: the runtime module's entry. It only wires: validates config, registers
 * the entry's translations and the UI entry points (the page's strings come with the page). Heavy code (the engine, a second matrix-js-sdk) loads when a migration
 * starts, not here.
 */
import type { Api, Module, ModuleFactory } from "@element-hq/element-web-module-api";

import { CONFIG_KEY, parseModuleConfig } from "./config.ts";
import { registerEntryPoints } from "./element/entryPoints.ts";
import { registerEntryTranslations } from "./i18n/entry.ts";

class AccountMigrationModule implements Module {
    /**
     * Every module API release with a location renderer (the page) loads it: 1.9 and later. The space-panel entry
     * (1.9+) and the composer preview (2.0+) are feature-detected. tests/module/apiVersions.test.ts checks each release.
     */
    public static readonly moduleApiVersion = "^1.9.0 || ^2.0.0";

    public constructor(private readonly api: Api) {}

    public async load(): Promise<void> {
        // Never throw from load(): Element would show its "misconfigured" screen to everyone.
        const parsed = parseModuleConfig(this.api.config.get(CONFIG_KEY));
        if (!parsed.ok) {
            console.error(`[account-migration] disabled: ${parsed.error}`);
            return;
        }
        try {
            const t = registerEntryTranslations(this.api.i18n);
            registerEntryPoints(this.api, parsed.config, t);
        } catch (e) {
            console.error("[account-migration] disabled: could not register with Element:", e);
        }
    }
}

export default AccountMigrationModule satisfies ModuleFactory;
