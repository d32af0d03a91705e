import { parseModuleConfig } from "./config.ts";

test("a missing config key gives every default", () => {
    expect(parseModuleConfig(undefined)).toEqual({
        ok: true,
        config: {
            space_panel_entry: true,
            composer_command: true,
            allowed_target_servers: [],
            allowed_target_homeservers: {},
            leave_old_rooms_default: false,
            moved_notice_default: false,
        },
    });
});

test("a wrong type or unknown option gives one readable error", () => {
    const wrongType = parseModuleConfig({ space_panel_entry: "yes" });
    expect(wrongType.ok).toBe(false);
    if (!wrongType.ok) expect(wrongType.error).toMatch(/space_panel_entry/);
    const unknown = parseModuleConfig({ allowed_servers: ["example.org"] });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toMatch(/allowed_servers/);
});

test("allowed_target_homeservers maps server names to homeserver addresses", () => {
    expect(
        parseModuleConfig({
            allowed_target_servers: ["example.org"],
            allowed_target_homeservers: { "example.org": "https://matrix.example.org" },
        }),
    ).toMatchObject({
        ok: true,
        config: { allowed_target_homeservers: { "example.org": "https://matrix.example.org" } },
    });
    const notUrl = parseModuleConfig({ allowed_target_homeservers: { "example.org": "matrix.example.org" } });
    expect(notUrl.ok).toBe(false);
    if (!notUrl.ok) expect(notUrl.error).toMatch(/allowed_target_homeservers\.example\.org/);
});
