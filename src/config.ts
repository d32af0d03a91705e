/**
 * The module's configuration: one key in Element's config.json, validated with one schema. `module.yaml` documents
 * the same options for admins (a test keeps the two in step).
 */
import { z } from "zod";

export const CONFIG_KEY = "io.github.matrix_account_migration";

export const moduleConfigSchema = z
    .object({
        /** Show the "Migrate account" entry in the space panel. */
        space_panel_entry: z.boolean().default(true),
        /** Offer to start a migration when `/migrate @new:server` is typed in the composer. */
        composer_command: z.boolean().default(true),
        /**
         * Homeserver names the new account may live on. Empty: any server. Lets an organisation keep migrations
         * inside its own servers.
         */
        allowed_target_servers: z.array(z.string().min(1)).default([]),
        /** Pre-tick "leave each old room once it is safely migrated" in the options. */
        leave_old_rooms_default: z.boolean().default(false),
        /** Pre-tick the "moved" trail (display name suffix and a note in each DM) in the options. */
        moved_notice_default: z.boolean().default(false),
    })
    .strict();

export type ModuleConfig = z.infer<typeof moduleConfigSchema>;

declare module "@element-hq/element-web-module-api" {
    interface Config {
        [CONFIG_KEY]?: z.input<typeof moduleConfigSchema>;
    }
}

export type ConfigResult = { ok: true; config: ModuleConfig } | { ok: false; error: string };

/** Validates the raw config.json value; a missing key means all defaults. */
export function parseModuleConfig(raw: unknown): ConfigResult {
    const result = moduleConfigSchema.safeParse(raw ?? {});
    if (result.success) return { ok: true, config: result.data };
    const problems = result.error.issues
        .map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`)
        .join("; ");
    return { ok: false, error: `"${CONFIG_KEY}" in config.json is invalid: ${problems}` };
}
