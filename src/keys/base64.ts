/**
 * Base64 from matrix-js-sdk. Matrix writes keys as unpadded base64 (spec appendix "Unpadded Base64"); some writers
 * (matrix-js-sdk's secret storage) pad, so decoding accepts both. What is added here: strict decoding (the SDK's
 * decoder is `atob` in Node and `Uint8Array.fromBase64` in browsers, which differ on whitespace and padding) and the
 * key file's line wrapping.
 */
import { decodeBase64 as sdkDecodeBase64, encodeBase64 } from "matrix-js-sdk/lib/base64.js";

export { encodeBase64, encodeUnpaddedBase64 } from "matrix-js-sdk/lib/base64.js";

/**
 * Decodes standard base64, padded or not, the same way everywhere. Whitespace is rejected unless `ignoreWhitespace`.
 * Throws on any other character outside the alphabet or on an impossible length.
 */
export function decodeBase64(text: string, options: { ignoreWhitespace?: boolean } = {}): Uint8Array<ArrayBuffer> {
    if (options.ignoreWhitespace) text = text.replace(/\s+/g, "");
    const unpadded = text.replace(/={1,2}$/, "");
    const bad = unpadded.search(/[^A-Za-z0-9+/]/);
    if (bad >= 0) throw new Error(`Invalid base64: unexpected character at position ${bad}`);
    // Padding only where it completes a 4-character group.
    if (unpadded.length !== text.length && text.length % 4 !== 0) throw new Error("Invalid base64: wrong padding");
    if (unpadded.length % 4 === 1) throw new Error("Invalid base64: impossible length");
    return sdkDecodeBase64(unpadded);
}

/**
 * About this many bytes are encoded per call, in whole lines. Where the platform lacks `Uint8Array.prototype.toBase64`
 * (Node 22), the SDK builds its string byte by byte, too much for a 40 MB key file at once.
 */
const SLICE_BYTES = 1 << 16;

/** Padded base64 split into lines of `lineLength` characters (joined by "\n", none at the end), for key files. */
export function encodeBase64Lines(bytes: Uint8Array, lineLength: number): string {
    if (!Number.isInteger(lineLength) || lineLength < 1) throw new RangeError("lineLength must be a positive integer");
    // 3 × lineLength bytes are exactly 4 lines, without padding.
    const slice = 3 * lineLength * Math.max(1, Math.floor(SLICE_BYTES / (3 * lineLength)));
    const parts: string[] = [];
    for (let offset = 0; offset < bytes.length; offset += slice) {
        const text = encodeBase64(bytes.subarray(offset, offset + slice));
        const lines: string[] = [];
        for (let i = 0; i < text.length; i += lineLength) lines.push(text.slice(i, i + lineLength));
        parts.push(lines.join("\n"));
    }
    return parts.join("\n");
}

/** base64url (JWK) → standard unpadded base64. */
export function base64UrlToBase64(text: string): string {
    return text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
}
