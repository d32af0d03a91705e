/**
 * Recognises `/migrate @new:server` in the composer's plain text. Element has no slash-command API, so the module
 * shows a composer preview for this text instead of intercepting the send. Problems are codes; the offer words them.
 */
import { parseUserId } from "../engine/userId.ts";

export type MigrateCommand =
    { kind: "ok"; newUserId: string } | { kind: "invalid"; problem: "missing" | "not_user_id"; input: string };

const COMMAND = /^\/migrate(?:\s+(.*))?$/;

/** `null` when the text is not the command at all (the preview stays hidden). */
export function parseMigrateCommand(text: string): MigrateCommand | null {
    const match = COMMAND.exec(text.trim());
    if (!match) return null;
    const argument = (match[1] ?? "").trim();
    if (!argument) return { kind: "invalid", problem: "missing", input: "" };
    const parsed = parseUserId(argument);
    if (!parsed.ok) return { kind: "invalid", problem: "not_user_id", input: argument };
    return { kind: "ok", newUserId: parsed.userId };
}
