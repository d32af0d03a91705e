/** Shared WebCrypto plumbing for src/keys. */

/**
 * `crypto.subtle`, or a clear error: browsers expose it only in secure contexts (https or localhost), and every
 * operation in src/keys needs it.
 */
export function getSubtle(): SubtleCrypto {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) {
        throw new Error(
            "WebCrypto (crypto.subtle) is not available: the page must be served over https or from localhost",
        );
    }
    return subtle;
}

/** Random bytes from the platform's CSPRNG. */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(length);
    // getRandomValues is limited to 65536 bytes per call; callers here never ask for more than a few dozen.
    globalThis.crypto.getRandomValues(out);
    return out;
}

/**
 * A copy that WebCrypto accepts as BufferSource (TypeScript rejects views that might be over a SharedArrayBuffer).
 * Callers pass their own arrays; copying also keeps later mutation by the caller from racing an async operation.
 */
export function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
    return new Uint8Array(bytes);
}

/** Byte equality that does not stop at the first difference (for comparing MACs). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
    let length = 0;
    for (const p of parts) length += p.length;
    const out = new Uint8Array(length);
    let offset = 0;
    for (const p of parts) {
        out.set(p, offset);
        offset += p.length;
    }
    return out;
}
