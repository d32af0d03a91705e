/**
 * One run of the same migration at a time across the tabs and windows of one browser profile, with the Web Locks API
 * (`navigator.locks`): the tab that runs a migration holds its lock until the run ends, and the browser releases it
 * when that tab closes or crashes, so a closed tab never blocks the next start.
 *
 * Covered: two tabs of the same Element (same origin, same browser profile). Not covered: other browsers, other
 * devices, and the CLI (which holds a lock file of its own); a browser without Web Locks runs without this check.
 */

/** Another tab of this browser runs this migration now; nothing was changed here. */
export class RunningInAnotherTabError extends Error {
    public readonly code = "running-elsewhere";
    public constructor(oldUserId: string, newUserId: string) {
        super(`The migration from ${oldUserId} to ${newUserId} is already running in another tab or window.`);
        this.name = "RunningInAnotherTabError";
    }
}

/** The lock's name: one per old → new account pair (user ids are globally unique). */
export function migrationLockName(oldUserId: string, newUserId: string): string {
    return `io.github.matrix_account_migration.run ${oldUserId} ${newUserId}`;
}

/** Runs `work` holding this migration's lock, or throws `RunningInAnotherTabError` at once when another tab holds it. */
export async function whileHoldingMigrationLock<T>(
    oldUserId: string,
    newUserId: string,
    work: () => Promise<T>,
): Promise<T> {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    if (!locks) return work();
    return locks.request(migrationLockName(oldUserId, newUserId), { ifAvailable: true }, async (lock) => {
        if (!lock) throw new RunningInAnotherTabError(oldUserId, newUserId);
        return work();
    });
}
