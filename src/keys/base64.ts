/**
 * Base64 without Buffer (the module also runs in browsers). Matrix writes keys as unpadded base64 (spec appendix
 * "Unpadded Base64"); some writers (matrix-js-sdk's secret storage) pad, so decoding accepts both.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Character code → 6-bit value; 255 marks characters outside the alphabet. */
const DECODE = new Uint8Array(128).fill(255);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const PAD = 61; // "="
const NEWLINE = 10;
const ascii = new TextDecoder();

/**
 * Writes the base64 characters as bytes and decodes them once: the result is one flat string, where building it
 * by concatenation would leave a rope of many small strings (hundreds of MB for a 40 MB key file).
 */
function encode(bytes: Uint8Array, pad: boolean, lineLength = 0): string {
    const whole = bytes.length - (bytes.length % 3);
    const rest = bytes.length - whole;
    const chars = (whole / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1);
    const breaks = lineLength > 0 && chars > 0 ? Math.ceil(chars / lineLength) - 1 : 0;
    const out = new Uint8Array(chars + breaks);
    let o = 0;
    let column = 0;
    const put = (code: number) => {
        if (lineLength > 0 && column === lineLength) {
            out[o++] = NEWLINE;
            column = 0;
        }
        out[o++] = code;
        column++;
    };
    if (lineLength === 0) {
        // The common case without line breaks, kept branch-free per character.
        for (let i = 0; i < whole; i += 3) {
            const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
            out[o] = ALPHABET_CODES[n >> 18]!;
            out[o + 1] = ALPHABET_CODES[(n >> 12) & 63]!;
            out[o + 2] = ALPHABET_CODES[(n >> 6) & 63]!;
            out[o + 3] = ALPHABET_CODES[n & 63]!;
            o += 4;
        }
    } else {
        for (let i = 0; i < whole; i += 3) {
            const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
            put(ALPHABET_CODES[n >> 18]!);
            put(ALPHABET_CODES[(n >> 12) & 63]!);
            put(ALPHABET_CODES[(n >> 6) & 63]!);
            put(ALPHABET_CODES[n & 63]!);
        }
    }
    if (rest > 0) {
        const n = (bytes[whole]! << 16) | (rest === 2 ? bytes[whole + 1]! << 8 : 0);
        put(ALPHABET_CODES[n >> 18]!);
        put(ALPHABET_CODES[(n >> 12) & 63]!);
        if (rest === 2) put(ALPHABET_CODES[(n >> 6) & 63]!);
        else if (pad) put(PAD);
        if (pad) put(PAD);
    }
    return ascii.decode(out);
}

/** Standard base64 with `=` padding. */
export function encodeBase64(bytes: Uint8Array): string {
    return encode(bytes, true);
}

/** Padded base64 split into lines of `lineLength` characters (joined by "\n", none at the end), for key files. */
export function encodeBase64Lines(bytes: Uint8Array, lineLength: number): string {
    if (!Number.isInteger(lineLength) || lineLength < 1) throw new RangeError("lineLength must be a positive integer");
    return encode(bytes, true, lineLength);
}

/** Unpadded base64, the form Matrix uses for keys, MACs and ciphertexts. */
export function encodeUnpaddedBase64(bytes: Uint8Array): string {
    return encode(bytes, false);
}

/**
 * Decodes standard base64, padded or not. Whitespace is rejected unless `ignoreWhitespace` (key files are split
 * into lines). Throws on any other character outside the alphabet or on an impossible length.
 */
export function decodeBase64(text: string, options: { ignoreWhitespace?: boolean } = {}): Uint8Array<ArrayBuffer> {
    if (options.ignoreWhitespace) text = text.replace(/[\s]+/g, "");
    let end = text.length;
    // At most two padding characters, and only where they complete a 4-character group.
    if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
    if (end > 0 && text.charCodeAt(end - 1) === 61) end--;
    if (end !== text.length && text.length % 4 !== 0) throw new Error("Invalid base64: wrong padding");
    if (end % 4 === 1) throw new Error("Invalid base64: impossible length");
    const out = new Uint8Array(Math.floor((end * 3) / 4));
    let o = 0;
    let acc = 0;
    let bits = 0;
    for (let i = 0; i < end; i++) {
        const c = text.charCodeAt(i);
        const v = c < 128 ? DECODE[c]! : 255;
        if (v === 255) throw new Error(`Invalid base64: unexpected character at position ${i}`);
        acc = ((acc << 6) | v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (acc >> bits) & 0xff;
        }
    }
    return out;
}

/** base64url (JWK) → standard unpadded base64. */
export function base64UrlToBase64(text: string): string {
    return text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
}
