/**
 * Text from servers (room names, inviters, reasons that quote them, server error messages) shown in a terminal.
 * Anyone who can name a room or send an invite controls it, and a terminal obeys control sequences inside text: an
 * escape sequence in a room name could clear the screen or rewrite the plan shown before "Start? [y/N]". So every
 * control character — C0 (with ESC, CR, LF), DEL, C1 — and the bidirectional overrides that reorder what is shown
 * become a visible replacement character.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
    return text.replace(UNSAFE, "\uFFFD");
}
