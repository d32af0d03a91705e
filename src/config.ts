/**
 * The module's configuration: one key in Element's config.json, validated with one schema. `module.yaml` documents
 * the same options for admins (a test keeps the two in step). `zod/mini` rather than `zod`: the schema ships in the
 * entry file Element loads at start-up, and the mini build is a fraction of the size.
 */
import { z } from "zod/mini";

export const CONFIG_KEY = "io.github.matrix_account_migration";

export const moduleConfigSchema = z.strictObject({
    /** Show the "Migrate account" entry in the space panel. */
    space_panel_entry: z._default(z.boolean(), true),
    /** Offer to start a migration when `/migrate @new:server` is typed in the composer. */
    composer_command: z._default(z.boolean(), true),
    /**
     * Homeserver names the new account may live on. Empty: any server. Lets an organisation keep migrations
     * inside its own servers.
     */
    allowed_target_servers: z._default(z.array(z.string().check(z.minLength(1))), []),
    /**
     * With `allowed_target_servers`: the homeserver address of an allowed server name, when it publishes no
     * .well-known (or to pin it). Otherwise only the address its .well-known names is accepted.
     */
    allowed_target_homeservers: z._default(z.record(z.string().check(z.minLength(1)), z.url()), {}),
    /** Pre-tick "leave each old room once it is safely migrated" in the options. */
    leave_old_rooms_default: z._default(z.boolean(), false),
    /** Pre-tick the "moved" trail (display name suffix and a note in each DM) in the options. */
    moved_notice_default: z._default(z.boolean(), false),
});

export type ModuleConfig = z.infer<typeof moduleConfigSchema>;

declare module "@element-hq/element-web-module-api" {
    interface Config {
        [CONFIG_KEY]?: z.input<typeof moduleConfigSchema>;
    }
}

export type ConfigResult = { ok: true; config: ModuleConfig } | { ok: false; error: string };

/** zod/mini carries no English messages; say what was expected in the admin's terms. */
function describeIssue(issue: z.core.$ZodIssue): string {
    const where = issue.path.length ? issue.path.join(".") : "(top level)";
    switch (issue.code) {
        case "invalid_type":
            return `${where}: expected ${issue.expected}`;
        case "unrecognized_keys":
            return `${where}: unknown option ${issue.keys.join(", ")}`;
        case "too_small":
            return `${where}: must not be empty`;
        default:
            return `${where}: ${issue.message}`;
    }
}

/** Validates the raw config.json value; a missing key means all defaults. */
export function parseModuleConfig(raw: unknown): ConfigResult {
    const result = moduleConfigSchema.safeParse(raw ?? {});
    if (result.success) return { ok: true, config: result.data };
    return {
        ok: false,
        error: `"${CONFIG_KEY}" in config.json is invalid: ${result.error.issues.map(describeIssue).join("; ")}`,
    };
}
