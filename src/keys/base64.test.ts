import { describe, expect, it } from "@jest/globals";
import { base64UrlToBase64, decodeBase64, encodeBase64, encodeBase64Lines, encodeUnpaddedBase64 } from "./base64.ts";

describe("base64", () => {
    it("matches Node's encoder for every length up to 100 and a large input", () => {
        const inputs = Array.from({ length: 101 }, (_, n) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
        const large = new Uint8Array(100_003);
        for (let i = 0; i < large.length; i += 65536) globalThis.crypto.getRandomValues(large.subarray(i, i + 65536));
        inputs.push(large);
        for (const bytes of inputs) {
            const padded = Buffer.from(bytes).toString("base64");
            expect(encodeBase64(bytes)).toBe(padded);
            expect(encodeUnpaddedBase64(bytes)).toBe(padded.replace(/=+$/, ""));
            expect(decodeBase64(padded)).toEqual(bytes);
            expect(decodeBase64(padded.replace(/=+$/, ""))).toEqual(bytes);
        }
    });

    it("splits into lines without a trailing line break", () => {
        for (const n of [0, 1, 71, 72, 73, 144, 1000]) {
            const bytes = globalThis.crypto.getRandomValues(new Uint8Array(n));
            const expected =
                Buffer.from(bytes)
                    .toString("base64")
                    .match(/.{1,96}/g)
                    ?.join("\n") ?? "";
            expect(encodeBase64Lines(bytes, 96)).toBe(expected);
        }
        expect(encodeBase64Lines(Uint8Array.of(1, 2, 3, 4), 3)).toBe("AQI\nDBA\n==");
    });

    it("rejects what is not base64", () => {
        expect(() => decodeBase64("ab$d")).toThrow(/unexpected character/);
        expect(() => decodeBase64("abcde")).toThrow(/impossible length/);
        expect(() => decodeBase64("ab=")).toThrow(/padding/);
        expect(() => decodeBase64("ab==c")).toThrow();
        expect(() => decodeBase64("ab cd")).toThrow();
        expect(() => decodeBase64("é")).toThrow();
        expect(decodeBase64("ab\ncd\r\n ef", { ignoreWhitespace: true })).toEqual(
            new Uint8Array(Buffer.from("abcdef", "base64")),
        );
        expect(decodeBase64("")).toEqual(new Uint8Array(0));
    });

    it("converts base64url (JWK) to base64", () => {
        const bytes = Uint8Array.of(0xfb, 0xff, 0xbf, 0x01);
        expect(base64UrlToBase64(Buffer.from(bytes).toString("base64url"))).toBe(encodeUnpaddedBase64(bytes));
    });
});
