import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { makePrivateDirectory, openPrivateFile, writePrivateFile } from "./privateFile.ts";

const dir = mkdtempSync(path.join(tmpdir(), "migrate-private-file-"));

test("issue 15.5: a new file is written 0600", () => {
    const file = path.join(dir, "new.json");
    writePrivateFile(file, "{}\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe("{}\n");
});

test("issue 15.5: a file that existed world-readable is 0600 afterwards, with only the new content", () => {
    const file = path.join(dir, "existing.txt");
    writeFileSync(file, "old content that is longer than the new one", { mode: 0o644 });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    writePrivateFile(file, "new");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe("new");
});

test("issue 16.4: the export's directory is made 0700; its files, written piece by piece, are 0600; a file in its place is refused", () => {
    const exportDir = path.join(dir, "kept", "deeper");
    makePrivateDirectory(exportDir);
    expect(statSync(exportDir).mode & 0o777).toBe(0o700);
    const file = path.join(exportDir, "room.json");
    writeFileSync(file, "old", { mode: 0o644 });
    const out = openPrivateFile(file);
    out.write("{");
    out.write("}\n");
    out.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe("{}\n");
    expect(() => makePrivateDirectory(file)).toThrow();
});
