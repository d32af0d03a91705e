/**
 * Recognises `/migrate @new:server` in the composer's plain text. Element has no slash-command API, so the module
 * shows a composer preview for this text instead of intercepting the send.
 */
import { parseUserId } from "../engine/userId.ts";

export type MigrateCommand = { kind: "ok"; newUserId: string } | { kind: "invalid"; problem: string };

const COMMAND = /^\/migrate(?:\s+(.*))?$/;

/** `null` when the text is not the command at all (the preview stays hidden). */
export function parseMigrateCommand(text: string): MigrateCommand | null {
    const match = COMMAND.exec(text.trim());
    if (!match) return null;
    const argument = (match[1] ?? "").trim();
    if (!argument) return { kind: "invalid", problem: "Add the new account after the command, e.g. /migrate @you:example.org" };
    const parsed = parseUserId(argument);
    if (!parsed.ok) return { kind: "invalid", problem: parsed.error };
    return { kind: "ok", newUserId: parsed.userId };
}
