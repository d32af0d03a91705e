/**
 * The report and the key file hold what only the person should read (the key file: every room key, encrypted with
 * a passphrase that may be weak; the report: rooms, accounts, admins' names). Written 0600 — also when the file
 * already existed with wider permissions, which `writeFileSync`'s `mode` leaves as they were.
 */
import { closeSync, fchmodSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";

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

/** A private file written piece by piece (an export too large to hold): 0600 like `writePrivateFile`. */
export function openPrivateFile(file: string): { write(text: string): void; close(): void } {
    const fd = openSync(file, "w", 0o600);
    try {
        fchmodSync(fd, 0o600);
    } catch (e) {
        closeSync(fd);
        throw e;
    }
    return { write: (text) => void writeSync(fd, text), close: () => closeSync(fd) };
}

/**
 * A directory only the person can enter, made when missing (0700). An existing one keeps its mode (it may be the
 * person's own folder), but must be a directory; the files in it are 0600 either way.
 */
export function makePrivateDirectory(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
}
