import { parseMigrateCommand } from "./migrateCommand.ts";

describe("/migrate in the composer", () => {
    test("/migrate followed by a user id names the new account", () => {
        expect(parseMigrateCommand("/migrate @new:example.org")).toEqual({ kind: "ok", newUserId: "@new:example.org" });
        expect(parseMigrateCommand("  /migrate   @new:example.org:8448  ")).toEqual({ kind: "ok", newUserId: "@new:example.org:8448" });
    });

    test("/migrate alone asks for the new account, with an example", () => {
        const parsed = parseMigrateCommand("/migrate");
        expect(parsed).toMatchObject({ kind: "invalid" });
        if (parsed?.kind === "invalid") expect(parsed.problem).toContain("/migrate @you:example.org");
    });

    test("/migrate with something that is not a user id says what is wrong with it", () => {
        expect(parseMigrateCommand("/migrate new.example.org")).toEqual({ kind: "invalid", problem: expect.stringMatching(/must start with @/) });
        expect(parseMigrateCommand("/migrate @new:example.org please")).toEqual({ kind: "invalid", problem: expect.stringMatching(/invalid server name/) });
    });

    test.each([["hello"], ["/migrated @new:example.org"], ["/Migrate @new:example.org"], ["please /migrate @new:example.org"], ["/me migrates"]])(
        "%j is not the command, so no preview shows",
        (text) => {
            expect(parseMigrateCommand(text)).toBeNull();
        },
    );
});
