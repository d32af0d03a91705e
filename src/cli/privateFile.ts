/**
 * The report and the key file hold what only the person should read (the key file: every room key, encrypted with
 * a passphrase that may be weak; the report: rooms, accounts, admins' names). Written 0600 — also when the file
 * already existed with wider permissions, which `writeFileSync`'s `mode` leaves as they were.
 */
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";

export function writePrivateFile(file: string, text: string): void {
    const fd = openSync(file, "w", 0o600);
    try {
        // Narrowed before a byte is written: the old, wider mode never covers the new content.
        fchmodSync(fd, 0o600);
        writeSync(fd, text);
    } finally {
        closeSync(fd);
    }
}
