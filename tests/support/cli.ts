/** The CLI's account arguments, in one order, for the tests that start `matrix-account-migrate`. */

export interface CliAccounts {
    oldHomeserver: string;
    /** Only where the CLI signs the old account in with a password (a token says whose it is). */
    oldUser?: string;
    newUser: string;
    newHomeserver?: string;
}

/** `--old-homeserver … [--old-user …] --new-user … [--new-homeserver …]`, then `extra` as given. */
export function cliArgs(accounts: CliAccounts, ...extra: string[]): string[] {
    return [
        ...["--old-homeserver", accounts.oldHomeserver],
        ...(accounts.oldUser ? ["--old-user", accounts.oldUser] : []),
        ...["--new-user", accounts.newUser],
        ...(accounts.newHomeserver ? ["--new-homeserver", accounts.newHomeserver] : []),
        ...extra,
    ];
}
