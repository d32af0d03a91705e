/**
 * Command-line arguments of `matrix-account-migrate`. Secrets are never accepted here (argv is visible to every user
 * of the machine and lands in shell history): they come from the environment only.
 */

export interface CliOptions {
    oldHomeserver: string;
    oldUser?: string;
    newUser: string;
    newHomeserver?: string;
    dryRun: boolean;
    leaveOldRooms: boolean;
    movedNotice: boolean;
    reportFile?: string;
    yes: boolean;
    keyFile?: string;
    setUpNewBackup: boolean;
    trustNewBackup: boolean;
    /** Rooms (ids) the old account may leave although some of their keys are not handed over. */
    acceptMissingKeys?: string[];
    help: boolean;
}

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
  --dry-run                show the plan and report, change nothing
  --leave-old-rooms        leave each old room once the new account is confirmed in it
  --moved-notice           add "(moved to …)" to the old display name and a note in each direct chat
  --report FILE            write a JSON report
  --key-file FILE          also write the old account's room keys as an encrypted key file (Element's format)
  --set-up-new-backup      set up recovery and a key backup for the new account if it has none
                           (needs MIGRATE_NEW_PASSWORD; prints the new recovery key once)
  --trust-new-backup       hand keys to the new account's backup without its recovery key (see --help risk)
  --accept-missing-keys ROOM_ID[,ROOM_ID…]
                           with --leave-old-rooms: leave these rooms even though some of their keys are not in
                           the new backup (the report of an earlier run names them); never needed otherwise
  --yes                    do not ask for confirmation
  -h, --help               this help

Secrets, from the environment only:
  MIGRATE_OLD_ACCESS_TOKEN, or MIGRATE_OLD_PASSWORD with --old-user
  MIGRATE_NEW_PASSWORD or MIGRATE_NEW_ACCESS_TOKEN
  MIGRATE_OLD_RECOVERY_KEY   read keys from the old account's key backup
  MIGRATE_NEW_RECOVERY_KEY   check the new account's key backup is its own (with --set-up-new-backup: the
                             recovery key to set up, if it has none)
  Without MIGRATE_NEW_RECOVERY_KEY the new backup cannot be verified: a malicious new homeserver could have
  put its own key there and read the handed-over keys. --trust-new-backup accepts that risk.
  MIGRATE_KEY_FILE_PASSPHRASE passphrase for --key-file

Exit codes: 0 every chosen room migrated; 3 finished, some rooms need action (including encrypted rooms whose
keys are not all in the new backup); 2 bad input (nothing changed);
1 other failures.`;

const VALUE_FLAGS: Record<string, keyof CliOptions> = {
    "--old-homeserver": "oldHomeserver",
    "--old-user": "oldUser",
    "--new-user": "newUser",
    "--new-homeserver": "newHomeserver",
    "--report": "reportFile",
    "--key-file": "keyFile",
    "--accept-missing-keys": "acceptMissingKeys",
};

const BOOLEAN_FLAGS: Record<string, keyof CliOptions> = {
    "--dry-run": "dryRun",
    "--leave-old-rooms": "leaveOldRooms",
    "--moved-notice": "movedNotice",
    "--set-up-new-backup": "setUpNewBackup",
    "--trust-new-backup": "trustNewBackup",
    "--yes": "yes",
    "-y": "yes",
    "--help": "help",
    "-h": "help",
};

const SECRET_LOOKING = /pass|token|secret|recovery/i;

export function parseArgs(argv: string[]): CliOptions {
    const values: Record<string, unknown> = {
        dryRun: false,
        leaveOldRooms: false,
        movedNotice: false,
        yes: false,
        setUpNewBackup: false,
        trustNewBackup: false,
        help: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const raw = argv[i];
        const [flag, inline] = raw.includes("=") ? [raw.slice(0, raw.indexOf("=")), raw.slice(raw.indexOf("=") + 1)] : [raw, undefined];
        if (flag in BOOLEAN_FLAGS) {
            if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
            values[BOOLEAN_FLAGS[flag]] = true;
        } else if (flag in VALUE_FLAGS) {
            const value = inline ?? argv[++i];
            if (value === undefined || value.startsWith("--")) throw new UsageError(`${flag} needs a value`);
            values[VALUE_FLAGS[flag]] = flag === "--accept-missing-keys" ? value.split(",").map((v) => v.trim()).filter(Boolean) : value;
        } else if (SECRET_LOOKING.test(flag)) {
            throw new UsageError(`${flag}: secrets are only read from the environment (see --help), never from the command line`);
        } else {
            throw new UsageError(`Unknown argument: ${raw}`);
        }
    }
    if (values.help) return values as unknown as CliOptions;
    if (!values.oldHomeserver) throw new UsageError("--old-homeserver is required");
    if (!values.newUser) throw new UsageError("--new-user is required");
    return values as unknown as CliOptions;
}
