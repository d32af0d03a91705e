import { terminalSafe } from "./terminalText.ts";

describe("issue 7.12: server-controlled text cannot drive the terminal", () => {
    test.each([
        ["an escape sequence that clears the screen", "Lobby\u001b[2J\u001b[H"],
        ["a carriage return that overwrites the line", "Fake plan: 0 rooms\rReal"],
        ["a newline that adds a line of its own", "Room\n  invites needed: 0"],
        ["an 8-bit CSI", "Room\u009b2J"],
        ["a right-to-left override", "evil\u202Etxt.exe"],
        ["a bell and a backspace", "ding\u0007\u0008"],
    ])("%s is neutralised", (_what, text) => {
        const safe = terminalSafe(text);
        // eslint-disable-next-line no-control-regex -- the test looks for control characters
        expect(safe).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
        expect(safe).toContain("\uFFFD");
    });

    test("ordinary text, including other scripts and emoji, is unchanged", () => {
        for (const text of ["Book club", "Café ☕ — «Treff»", "日本語の部屋", "שלום", "🎉 party"])
            expect(terminalSafe(text)).toBe(text);
    });
});
