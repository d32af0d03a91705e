import { USAGE, UsageError, parseArgs } from "./args.ts";

const REQUIRED = ["--old-homeserver", "https://old.example", "--new-user", "@new:new.example"];

function usageErrorOf(argv: string[]): UsageError {
    try {
        parseArgs(argv);
    } catch (e) {
        if (e instanceof UsageError) return e;
        throw e;
    }
    throw new Error(`parseArgs accepted ${JSON.stringify(argv)}`);
}

describe("command-line arguments", () => {
    test("the required flags alone give every default", () => {
        expect(parseArgs(REQUIRED)).toEqual({
            oldHomeserver: "https://old.example",
            newUser: "@new:new.example",
            dryRun: false,
            leaveOldRooms: false,
            movedNotice: false,
            yes: false,
            setUpNewBackup: false,
            trustNewBackup: false,
            help: false,
        });
    });

    test("every flag is read, in the `--flag value` and `--flag=value` forms", () => {
        const options = parseArgs([
            "--old-homeserver=https://old.example",
            "--old-user",
            "@old:old.example",
            "--new-user=@new:new.example",
            "--new-homeserver",
            "https://new.example",
            "--report=report.json",
            "--key-file",
            "keys.txt",
            "--dry-run",
            "--leave-old-rooms",
            "--moved-notice",
            "--set-up-new-backup",
            "--trust-new-backup",
            "-y",
        ]);
        expect(options).toEqual({
            oldHomeserver: "https://old.example",
            oldUser: "@old:old.example",
            newUser: "@new:new.example",
            newHomeserver: "https://new.example",
            reportFile: "report.json",
            keyFile: "keys.txt",
            dryRun: true,
            leaveOldRooms: true,
            movedNotice: true,
            setUpNewBackup: true,
            trustNewBackup: true,
            yes: true,
            help: false,
        });
    });

    test("a value may itself contain '=' (a URL with a query)", () => {
        expect(parseArgs([...REQUIRED, "--new-homeserver=https://new.example/?a=b"]).newHomeserver).toBe(
            "https://new.example/?a=b",
        );
    });

    test.each([
        ["--old-password", "hunter2"],
        ["--new-password=hunter2"],
        ["--access-token", "syt_abc"],
        ["--recovery-key=EsTc 1234"],
        ["--secret", "x"],
    ])(
        "a secret on the command line (%s) is refused without echoing it, pointing to the environment",
        (...secretArgs) => {
            const error = usageErrorOf([...REQUIRED, ...secretArgs]);
            expect(error.message).toMatch(/only read from the environment/);
            expect(error.message).not.toMatch(/hunter2|syt_abc|EsTc/);
        },
    );

    test("an unknown flag is refused by name", () => {
        expect(usageErrorOf([...REQUIRED, "--levae-old-rooms"]).message).toBe("Unknown argument: --levae-old-rooms");
    });

    test.each([
        [["--foo=SECRETVALUE"], "Unknown argument: --foo (its value is not shown)"],
        [["--foo", "SECRETVALUE"], "Unknown argument: --foo"],
        [["-xSECRETVALUE"], "Unknown argument: -x"],
        [["SECRETVALUE"], "Unexpected argument number 5 (not shown): values follow the flag they belong to"],
        [
            ["--dry-run", "SECRETVALUE"],
            "Unexpected argument number 6 (not shown): values follow the flag they belong to",
        ],
        [["--", "SECRETVALUE"], "Unexpected argument number 6 (not shown): values follow the flag they belong to"],
    ])("issue 7.13: an unrecognised argument (%j) is refused without echoing its value", (extra, message) => {
        const error = usageErrorOf([...REQUIRED, ...extra]);
        expect(error.message).toBe(message);
        expect(error.message).not.toContain("SECRETVALUE");
    });

    test("a flag that needs a value refuses a missing one, or the next flag as its value", () => {
        expect(usageErrorOf(["--new-user", "@new:new.example", "--old-homeserver"]).message).toBe(
            "--old-homeserver needs a value",
        );
        expect(usageErrorOf(["--old-homeserver", "--new-user", "@new:new.example"]).message).toBe(
            "--old-homeserver needs a value",
        );
    });

    test("a yes/no flag refuses a value", () => {
        expect(usageErrorOf([...REQUIRED, "--dry-run=false"]).message).toBe("--dry-run takes no value");
    });

    test("--old-homeserver and --new-user are required", () => {
        expect(usageErrorOf(["--new-user", "@new:new.example"]).message).toBe("--old-homeserver is required");
        expect(usageErrorOf(["--old-homeserver", "https://old.example"]).message).toBe("--new-user is required");
        expect(usageErrorOf(["--old-homeserver", "https://old.example", "--new-user="]).message).toBe(
            "--new-user is required",
        );
    });

    test("--new-sign-in and --old-sign-in take one of the methods, with an optional identity provider", () => {
        const required = ["--old-homeserver", "https://old.example", "--new-user", "@new:new.example"];
        expect(
            parseArgs([...required, "--new-sign-in", "sso", "--new-idp", "oidc-company", "--old-sign-in=device"]),
        ).toMatchObject({ newSignIn: "sso", newIdp: "oidc-company", oldSignIn: "device" });
        expect(usageErrorOf([...required, "--new-sign-in", "magic"]).message).toBe(
            '--new-sign-in must be one of password, sso, oauth, device, token, not "magic"',
        );
    });

    test("--accept-missing-keys names rooms, comma-separated", () => {
        const required = ["--old-homeserver", "https://old.example", "--new-user", "@new:new.example"];
        expect(
            parseArgs([...required, "--accept-missing-keys", "!a:old.example, !b:old.example,"]).acceptMissingKeys,
        ).toEqual(["!a:old.example", "!b:old.example"]);
        expect(parseArgs(required).acceptMissingKeys).toBeUndefined();
    });

    test("issue 16.3: --accept-losses is the same list (keys and hidden history), and either flag may repeat", () => {
        const required = ["--old-homeserver", "https://old.example", "--new-user", "@new:new.example"];
        expect(
            parseArgs([
                ...required,
                "--accept-losses",
                "!a:old.example",
                "--accept-missing-keys",
                "!b:old.example",
                "--accept-losses",
                "!c:old.example,!d:old.example",
            ]).acceptMissingKeys,
        ).toEqual(["!b:old.example", "!a:old.example", "!c:old.example", "!d:old.example"]);
    });

    test.each([["--help"], ["-h"]])("%s needs no other flag", (flag) => {
        expect(parseArgs([flag]).help).toBe(true);
    });

    test("the usage text lists every flag the parser accepts and every secret variable", () => {
        for (const flag of [
            "--old-homeserver",
            "--old-user",
            "--new-user",
            "--new-homeserver",
            "--dry-run",
            "--leave-old-rooms",
            "--moved-notice",
            "--report",
            "--key-file",
            "--set-up-new-backup",
            "--trust-new-backup",
            "--accept-missing-keys",
            "--yes",
            "--help",
            "--new-sign-in",
            "--old-sign-in",
            "--new-idp",
            "--old-idp",
        ]) {
            expect(USAGE).toContain(flag);
        }
        for (const variable of [
            "MIGRATE_OLD_ACCESS_TOKEN",
            "MIGRATE_OLD_PASSWORD",
            "MIGRATE_NEW_PASSWORD",
            "MIGRATE_NEW_ACCESS_TOKEN",
            "MIGRATE_OLD_RECOVERY_KEY",
            "MIGRATE_NEW_RECOVERY_KEY",
        ]) {
            expect(USAGE).toContain(variable);
        }
    });
});
