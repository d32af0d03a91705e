/**
 * Command-line arguments of `matrix-account-migrate`, read by Node's `util.parseArgs` (strict). Secrets are never
 * accepted here (argv is visible to every user of the machine and lands in shell history): they come from the
 * environment only, and refusals never show a value that belongs to no known flag.
 */
import { type ParseArgsOptionsConfig, parseArgs as parseCommandLine } from "node:util";

import type { SignInMethodName } from "../sessions/signIn.ts";

export interface CliOptions {
    oldHomeserver: string;
    oldUser?: string;
    newUser: string;
    newHomeserver?: string;
    /** How each account signs in; default: the secret given in the environment, else the server's recommendation. */
    newSignIn?: SignInMethodName;
    oldSignIn?: SignInMethodName;
    /** Which single sign-on identity provider (its id), when the server has several. */
    newIdp?: string;
    oldIdp?: string;
    dryRun: boolean;
    leaveOldRooms: boolean;
    movedNotice: boolean;
    reportFile?: string;
    yes: boolean;
    keyFile?: string;
    /** A directory for the messages a newcomer won't see (JSON + HTML per room), written before anything changes. */
    exportHiddenHistory?: string;
    setUpNewBackup: boolean;
    trustNewBackup: boolean;
    /** Rooms (ids) the old account may leave although some of their keys are not handed over. */
    acceptMissingKeys?: string[];
    help: boolean;
}

export const SIGN_IN_CHOICES: readonly SignInMethodName[] = ["password", "sso", "oauth", "device", "token"];

export class UsageError extends Error {
    public constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

export const USAGE = `Usage: matrix-account-migrate --old-homeserver URL --new-user @name:server [options]

Moves a Matrix account to a new one: rooms and power levels, direct chats, tags, notification rules,
ignored users, profile, and (with a recovery key) encrypted history.

Options:
  --old-homeserver URL     the old account's homeserver (client API URL)
  --old-user @name:server  the old account (needed with MIGRATE_OLD_PASSWORD)
  --new-user @name:server  the new account
  --new-homeserver URL     the new account's homeserver (default: found through .well-known)
  --new-sign-in METHOD     how the new account signs in: password, sso, oauth, device or token
                           (default: token or password when given below, else what the server recommends:
                           OAuth 2.0 — with a code to enter (device) when offered —, then sso, then password)
  --old-sign-in METHOD     the same for the old account (sso, oauth and device need --old-user)
  --new-idp ID, --old-idp ID  the single sign-on provider to use when the server has several
  --dry-run                show the plan and report, change nothing
  --leave-old-rooms        leave each old room once the new account is confirmed in it
  --moved-notice           add "(moved to …)" to the old display name and a note in each direct chat
  --report FILE            write a JSON report
  --key-file FILE          also write the old account's room keys as an encrypted key file (Element's format)
  --export-hidden-history DIR
                           first write each chosen room's messages the new account will never see (the room
                           shows members only what was sent after they were invited or joined) to DIR, as JSON
                           and HTML, decrypted with MIGRATE_OLD_RECOVERY_KEY; at most 500,000 messages per room.
                           Also with --dry-run. The report names the files
  --set-up-new-backup      set up recovery and a key backup for the new account if it has none
                           (needs MIGRATE_NEW_PASSWORD; prints the new recovery key once)
  --trust-new-backup       hand keys to the new account's backup without its recovery key (see --help risk)
  --accept-losses ROOM_ID[,ROOM_ID…]  (also --accept-missing-keys)
                           with --leave-old-rooms: leave these rooms even though the new account can't see or
                           can't decrypt some of their messages (the plan and the report name them and how many);
                           those messages stay with the old account. Never needed otherwise
  --yes                    do not ask for confirmation
  -h, --help               this help

sso and oauth print one line "Sign in at: URL" on stderr (and open a browser when run in a terminal); the
browser comes back to a one-time address on 127.0.0.1. device prints the URL and a code to approve from any
device. The resulting tokens are never printed.

Secrets, from the environment only:
  MIGRATE_OLD_ACCESS_TOKEN, or MIGRATE_OLD_PASSWORD with --old-user
  MIGRATE_NEW_PASSWORD or MIGRATE_NEW_ACCESS_TOKEN
  MIGRATE_OLD_RECOVERY_KEY   read keys from the old account's key backup
  MIGRATE_NEW_RECOVERY_KEY   check the new account's key backup is its own (with --set-up-new-backup: the
                             recovery key to set up, if it has none)
  Without MIGRATE_NEW_RECOVERY_KEY the new backup cannot be verified: a malicious new homeserver could have
  put its own key there and read the handed-over keys. --trust-new-backup accepts that risk.
  MIGRATE_KEY_FILE_PASSPHRASE passphrase for --key-file
  MIGRATE_DEBUG_LOG=FILE     append matrix-js-sdk's debug log to FILE (by default it is not shown)

Exit codes: 0 every chosen room migrated; 3 finished, some rooms need action (including encrypted rooms whose
keys are not all in the new backup); 2 bad input (nothing changed), or the same migration is already
running on this machine (a run killed earlier does not count: it continues); 1 other failures.`;

/** Every flag, as Node's `util.parseArgs` reads it. */
const OPTIONS = {
    "old-homeserver": { type: "string" },
    "old-user": { type: "string" },
    "new-user": { type: "string" },
    "new-homeserver": { type: "string" },
    "new-sign-in": { type: "string" },
    "old-sign-in": { type: "string" },
    "new-idp": { type: "string" },
    "old-idp": { type: "string" },
    "report": { type: "string" },
    "key-file": { type: "string" },
    "export-hidden-history": { type: "string" },
    "accept-missing-keys": { type: "string", multiple: true },
    "accept-losses": { type: "string", multiple: true },
    "dry-run": { type: "boolean", default: false },
    "leave-old-rooms": { type: "boolean", default: false },
    "moved-notice": { type: "boolean", default: false },
    "set-up-new-backup": { type: "boolean", default: false },
    "trust-new-backup": { type: "boolean", default: false },
    "yes": { type: "boolean", short: "y", default: false },
    "help": { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsOptionsConfig;

const SECRET_LOOKING = /pass|token|secret|recovery/i;

export function parseArgs(argv: string[]): CliOptions {
    const values = parseStrictly(argv);
    const options: CliOptions = {
        oldHomeserver: values["old-homeserver"]!,
        oldUser: values["old-user"],
        newUser: values["new-user"]!,
        newHomeserver: values["new-homeserver"],
        newSignIn: values["new-sign-in"] as SignInMethodName | undefined,
        oldSignIn: values["old-sign-in"] as SignInMethodName | undefined,
        newIdp: values["new-idp"],
        oldIdp: values["old-idp"],
        reportFile: values.report,
        keyFile: values["key-file"],
        exportHiddenHistory: values["export-hidden-history"],
        dryRun: values["dry-run"],
        leaveOldRooms: values["leave-old-rooms"],
        movedNotice: values["moved-notice"],
        setUpNewBackup: values["set-up-new-backup"],
        trustNewBackup: values["trust-new-backup"],
        // One list for both kinds of loss (keys, history a room hides from newcomers); each flag may be repeated.
        acceptMissingKeys:
            values["accept-missing-keys"] || values["accept-losses"]
                ? [...(values["accept-missing-keys"] ?? []), ...(values["accept-losses"] ?? [])]
                      .flatMap((v) => v.split(","))
                      .map((v) => v.trim())
                      .filter(Boolean)
                : undefined,
        yes: values.yes,
        help: values.help,
    };
    if (options.help) return options;
    for (const [flag, choice] of [
        ["--new-sign-in", options.newSignIn],
        ["--old-sign-in", options.oldSignIn],
    ] as const) {
        if (choice !== undefined && !(SIGN_IN_CHOICES as readonly string[]).includes(choice)) {
            throw new UsageError(`${flag} must be one of ${SIGN_IN_CHOICES.join(", ")}, not "${choice}"`);
        }
    }
    if (!options.oldHomeserver) throw new UsageError("--old-homeserver is required");
    if (!options.newUser) throw new UsageError("--new-user is required");
    return options;
}

function parseStrictly(argv: string[]) {
    try {
        return parseCommandLine({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
    } catch {
        // Node's messages quote what they refuse, which may be a secret typed in the wrong place.
        throw new UsageError(explainRefusal(argv));
    }
}

/**
 * Why the strict parse refused `argv`, naming flags but never showing a value that does not belong to a known flag
 * (it may be a password typed in the wrong place). A secret-looking flag is named first, wherever it is.
 */
function explainRefusal(argv: string[]): string {
    const { tokens } = parseCommandLine({
        args: argv,
        options: OPTIONS,
        strict: false,
        allowPositionals: true,
        tokens: true,
    });
    const isKnown = (name: string): name is keyof typeof OPTIONS => Object.hasOwn(OPTIONS, name);
    const secret = tokens.find((t) => t.kind === "option" && !isKnown(t.name) && SECRET_LOOKING.test(t.name));
    if (secret?.kind === "option") {
        return `${secret.rawName}: secrets are only read from the environment (see --help), never from the command line`;
    }
    for (const token of tokens) {
        if (token.kind === "positional")
            return `Unexpected argument number ${token.index + 1} (not shown): values follow the flag they belong to`;
        if (token.kind !== "option") continue;
        if (!isKnown(token.name))
            return `Unknown argument: ${token.rawName}${token.value === undefined ? "" : " (its value is not shown)"}`;
        const type = OPTIONS[token.name].type;
        if (type === "boolean" && token.value !== undefined) return `${token.rawName} takes no value`;
        if (type === "string" && (token.value === undefined || (!token.inlineValue && token.value.startsWith("-")))) {
            return `${token.rawName} needs a value`;
        }
    }
    return "Invalid arguments (see --help)";
}
