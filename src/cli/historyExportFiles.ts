/**
 * `--export-hidden-history DIR`: before anything changes, each chosen room's messages a newcomer won't see go to two
 * files in DIR (JSON and HTML, 0600), decrypted with the old account's key backup when its recovery key was given.
 * Written as the messages are read: memory stays flat whatever the room's size.
 */
import path from "node:path";

import {
    type EventDecryptor,
    type HistoryExportRecord,
    HtmlHistoryWriter,
    JsonHistoryWriter,
    EXPORT_MESSAGE_LIMIT,
    exportFileBase,
    exportRoomHistory,
} from "../engine/historyExport.ts";
import type { MigrationPlan } from "../engine/plan.ts";
import type { SignedInSession } from "../sessions/session.ts";
import { backupEventDecryptor } from "../keys/backupEventDecryptor.ts";
import { makePrivateDirectory, openPrivateFile } from "./privateFile.ts";
import { terminalSafe } from "./terminalText.ts";

/** A progress line at most this often (messages). */
const PROGRESS_EVERY = 10_000;

export async function exportHiddenHistoryFiles(input: {
    dir: string;
    plan: MigrationPlan;
    old: SignedInSession;
    oldBackup?: { version: string; privateKey: Uint8Array };
    err: Pick<NodeJS.WriteStream, "write">;
}): Promise<HistoryExportRecord[]> {
    const { dir, plan, old, err } = input;
    const rooms = plan.rooms.filter((r) => r.selected && r.hiddenHistory);
    const line = (text: string) => err.write(`${terminalSafe(text)}\n`);
    if (!rooms.length) {
        line("Export: no chosen room hides history from newcomers; nothing to export.");
        return [];
    }
    makePrivateDirectory(dir);
    const get = <T>(p: string, query?: Record<string, string | number | undefined>) =>
        old.http.request<T>("GET", p, { query });
    let decryptor: (EventDecryptor & { close(): void }) | undefined;
    if (input.oldBackup) decryptor = await backupEventDecryptor(get, old.userId, input.oldBackup);
    else if (rooms.some((r) => r.encrypted))
        line(
            "Export: without the old recovery key (MIGRATE_OLD_RECOVERY_KEY) encrypted messages are exported as “could not be decrypted”.",
        );
    const records: HistoryExportRecord[] = [];
    try {
        for (const room of rooms) {
            const base = path.join(dir, exportFileBase(room.roomId));
            const files = [`${base}.json`, `${base}.html`];
            const [json, html] = files.map(openPrivateFile) as [
                ReturnType<typeof openPrivateFile>,
                ReturnType<typeof openPrivateFile>,
            ];
            try {
                const sinks = [
                    new JsonHistoryWriter(json.write, { exportedBy: old.userId }),
                    new HtmlHistoryWriter(html.write),
                ];
                line(`Exporting what “${room.name}” hides from newcomers…`);
                let shown = 0;
                const summary = await exportRoomHistory(
                    get,
                    { roomId: room.roomId, name: room.name, periods: room.hiddenHistory!.periods },
                    sinks,
                    {
                        decryptor,
                        onMessages: (n) => {
                            if (n - shown >= PROGRESS_EVERY) line(`  ${(shown = n)} messages…`);
                        },
                    },
                );
                for (const s of sinks) await s.finish();
                records.push({ roomId: room.roomId, name: room.name, files, ...summary });
                line(
                    `  ${summary.messages} messages` +
                        (summary.undecryptable ? ` (${summary.undecryptable} could not be decrypted)` : "") +
                        (summary.truncated ? `, stopped at the limit of ${EXPORT_MESSAGE_LIMIT} per room` : "") +
                        ` → ${files.join(", ")}`,
                );
            } finally {
                json.close();
                html.close();
            }
        }
    } finally {
        decryptor?.close();
    }
    return records;
}
