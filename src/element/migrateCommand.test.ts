import { parseMigrateCommand } from "./migrateCommand.ts";

describe("/migrate in the composer", () => {
    test("/migrate followed by a user id names the new account", () => {
        expect(parseMigrateCommand("/migrate @new:example.org")).toEqual({ kind: "ok", newUserId: "@new:example.org" });
        expect(parseMigrateCommand("  /migrate   @new:example.org:8448  ")).toEqual({
            kind: "ok",
            newUserId: "@new:example.org:8448",
        });
    });

    test("/migrate alone asks for the new account", () => {
        expect(parseMigrateCommand("/migrate")).toEqual({ kind: "invalid", problem: "missing", input: "" });
    });

    test("/migrate with something that is not a user id names what was typed", () => {
        expect(parseMigrateCommand("/migrate new.example.org")).toEqual({
            kind: "invalid",
            problem: "not_user_id",
            input: "new.example.org",
        });
        expect(parseMigrateCommand("/migrate @new:example.org please")).toEqual({
            kind: "invalid",
            problem: "not_user_id",
            input: "@new:example.org please",
        });
    });

    test.each([
        ["hello"],
        ["/migrated @new:example.org"],
        ["/Migrate @new:example.org"],
        ["please /migrate @new:example.org"],
        ["/me migrates"],
    ])("%j is not the command, so no preview shows", (text) => {
        expect(parseMigrateCommand(text)).toBeNull();
    });
});
