/** Progress output: a bar with ETA redrawn in place on a terminal, plain lines otherwise (logs, CI, pipes). */
import type { ProgressEvent } from "../engine/context.ts";
import type { WaitNotice } from "../engine/scheduler.ts";
import { formatDuration } from "../engine/duration.ts";
import { terminalSafe } from "./terminalText.ts";

export interface ProgressOutput {
    onProgress(event: ProgressEvent): void;
    onWait(notice: WaitNotice): void;
    end(): void;
}

export function progressOutput(stream: NodeJS.WriteStream): ProgressOutput {
    const tty = stream.isTTY === true;
    let lastExplanation: string | undefined;
    let lastLine = "";
    const width = 24;
    return {
        onProgress(event) {
            // Messages name rooms, which anyone who can invite the old account controls.
            const e = {
                ...event,
                message: terminalSafe(event.message),
                etaExplanation: event.etaExplanation && terminalSafe(event.etaExplanation),
            };
            if (e.etaExplanation && e.etaExplanation !== lastExplanation) {
                lastExplanation = e.etaExplanation;
                stream.write(`${tty ? "\r\x1b[2K" : ""}Note: ${e.etaExplanation}\n`);
            }
            if (tty) {
                const filled = e.roomsTotal ? Math.round((e.roomsDone / e.roomsTotal) * width) : width;
                const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
                const line = `${bar} ${e.roomsDone}/${e.roomsTotal} rooms · ETA ${formatDuration(e.etaMs)} · ${e.message}`;
                lastLine = line.slice(0, (stream.columns ?? 120) - 1);
                stream.write(`\r\x1b[2K${lastLine}`);
            } else {
                stream.write(`[${e.roomsDone}/${e.roomsTotal}] ${e.message} (ETA ${formatDuration(e.etaMs)})\n`);
            }
        },
        onWait(n) {
            const why =
                n.reason === "invite-refused"
                    ? "the new server refused an invite (its per-user invite limit)"
                    : n.reason === "rate-limited"
                      ? "rate-limited by the server"
                      : n.reason === "unreachable"
                        ? "server unreachable"
                        : n.reason === "not-answering"
                          ? "the server is not answering"
                          : "server error";
            const text = `Waiting ${formatDuration(n.ms)} (${n.bucket}): ${why}`;
            stream.write(tty ? `\r\x1b[2K${text}\n${lastLine}` : `${text}\n`);
        },
        end() {
            if (tty && lastLine) stream.write("\n");
        },
    };
}
