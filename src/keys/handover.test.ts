/** Issue 16.5c: reading the session ids a room's encrypted events name (pure logic; server data is hostile). */
import { timelineSessions } from "./handover.ts";

const encrypted = (content: unknown) => ({ type: "m.room.encrypted", content });

test("collects each megolm session id once, and counts encrypted events that name none", () => {
    const sessions = timelineSessions([
        encrypted({ algorithm: "m.megolm.v1.aes-sha2", session_id: "S1", ciphertext: "…" }),
        encrypted({ algorithm: "m.megolm.v1.aes-sha2", session_id: "S1", ciphertext: "…" }),
        encrypted({ algorithm: "m.megolm.v1.aes-sha2", session_id: "S2", ciphertext: "…" }),
        encrypted({ algorithm: "m.megolm.v1.aes-sha2", ciphertext: "…" }),
        encrypted({ session_id: 42 }),
        encrypted(null),
        encrypted({ session_id: "x".repeat(10_000) }),
    ]);
    expect([...sessions.sessions]).toEqual(["S1", "S2"]);
    expect(sessions.unnamed).toBe(4);
});

test("ignores what is not an encrypted event", () => {
    expect(
        timelineSessions([null, 7, "x", { type: "m.room.message", content: { session_id: "S" } }, { content: {} }]),
    ).toEqual({ sessions: new Set(), unnamed: 0 });
});
