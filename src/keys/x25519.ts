/**
 * Hand-written glue for the backup crypto (see backupCrypto.ts): the curve itself is WebCrypto's or @noble/curves'.
 *
 * X25519 (Curve25519 ECDH) for the key backup. WebCrypto has it in Node 20+ and current browsers; older browsers do
 * not, so `@noble/curves` is the fallback, chosen once by feature detection and loaded only when needed.
 */
import { KeysError } from "./errors.ts";
import { base64UrlToBase64, decodeBase64 } from "./base64.ts";
import { concatBytes, getSubtle, toBuffer } from "./webCrypto.ts";

/** A peer public key prepared once for many agreements (the backup key is used for every session). */
export interface X25519PublicKey {
    readonly raw: Uint8Array;
}

/** A private key prepared once for many agreements (decrypting a whole backup). */
export interface X25519PrivateKey {
    readonly kind: "x25519-private";
}

export interface X25519 {
    readonly implementation: "webcrypto" | "noble";
    importPublicKey(raw: Uint8Array): Promise<X25519PublicKey>;
    /** A fresh ephemeral key pair agreed with `peer`: its public half and the 32-byte shared secret. */
    ephemeralAgreement(
        peer: X25519PublicKey,
    ): Promise<{ ephemeralPublic: Uint8Array; sharedSecret: Uint8Array<ArrayBuffer> }>;
    importPrivateKey(raw: Uint8Array): Promise<X25519PrivateKey>;
    agree(privateKey: X25519PrivateKey, peerPublic: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
    publicKeyFromPrivate(raw: Uint8Array): Promise<Uint8Array>;
}

const KEY_LENGTH = 32;
/** PKCS#8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto cannot import a raw private key. */
const PKCS8_PREFIX = Uint8Array.of(
    0x30,
    0x2e,
    0x02,
    0x01,
    0x00,
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    0x6e,
    0x04,
    0x22,
    0x04,
    0x20,
);

function checkLength(raw: Uint8Array, what: "public" | "private"): void {
    if (raw.length !== KEY_LENGTH) {
        throw new KeysError(
            what === "public" ? "backup_bad_public_key" : "backup_bad_private_key",
            `An X25519 ${what} key has ${KEY_LENGTH} bytes, got ${raw.length}`,
        );
    }
}

/** Low-order peer keys give an all-zero secret; both implementations refuse them, with different messages. */
function agreementFailed(cause: unknown): KeysError {
    return new KeysError("backup_bad_public_key", "Key agreement failed: the public key is not a usable X25519 key", {
        cause,
    });
}

interface WebCryptoPublicKey extends X25519PublicKey {
    readonly key: CryptoKey;
}
interface WebCryptoPrivateKey extends X25519PrivateKey {
    readonly key: CryptoKey;
}

export function webCryptoX25519(subtle: SubtleCrypto = getSubtle()): X25519 {
    const importPrivate = (raw: Uint8Array, extractable: boolean) => {
        checkLength(raw, "private");
        return subtle.importKey("pkcs8", concatBytes(PKCS8_PREFIX, raw), { name: "X25519" }, extractable, [
            "deriveBits",
        ]);
    };
    return {
        implementation: "webcrypto",
        async importPublicKey(raw) {
            checkLength(raw, "public");
            const key = await subtle.importKey("raw", toBuffer(raw), { name: "X25519" }, true, []);
            return { raw: toBuffer(raw), key } as WebCryptoPublicKey;
        },
        async ephemeralAgreement(peer) {
            // The private half never needs to leave WebCrypto; public keys are always exportable.
            const pair = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
            const [publicRaw, secret] = await Promise.all([
                subtle.exportKey("raw", pair.publicKey),
                subtle
                    .deriveBits({ name: "X25519", public: (peer as WebCryptoPublicKey).key }, pair.privateKey, 256)
                    .catch((e: unknown) => Promise.reject(agreementFailed(e))),
            ]);
            return { ephemeralPublic: new Uint8Array(publicRaw), sharedSecret: new Uint8Array(secret) };
        },
        async importPrivateKey(raw) {
            const key = await importPrivate(raw, false);
            return { kind: "x25519-private", key } as WebCryptoPrivateKey;
        },
        async agree(privateKey, peerPublic) {
            checkLength(peerPublic, "public");
            const peer = await subtle.importKey("raw", toBuffer(peerPublic), { name: "X25519" }, true, []);
            try {
                return new Uint8Array(
                    await subtle.deriveBits(
                        { name: "X25519", public: peer },
                        (privateKey as WebCryptoPrivateKey).key,
                        256,
                    ),
                );
            } catch (e) {
                throw agreementFailed(e);
            }
        },
        async publicKeyFromPrivate(raw) {
            // The JWK export of a private key carries its public half ("x"), which avoids a curve operation here.
            const jwk = await subtle.exportKey("jwk", await importPrivate(raw, true));
            if (!jwk.x) throw new Error("WebCrypto did not export the X25519 public key");
            return decodeBase64(base64UrlToBase64(jwk.x));
        },
    };
}

interface NoblePrivateKey extends X25519PrivateKey {
    readonly raw: Uint8Array;
}

export async function nobleX25519(): Promise<X25519> {
    // Loaded on demand so browsers with WebCrypto X25519 never download it.
    const { x25519 } = await import("@noble/curves/ed25519.js");
    const agree = (secretKey: Uint8Array, peer: Uint8Array): Uint8Array<ArrayBuffer> => {
        try {
            return toBuffer(x25519.getSharedSecret(secretKey, peer));
        } catch (e) {
            throw agreementFailed(e);
        }
    };
    return {
        implementation: "noble",
        async importPublicKey(raw) {
            checkLength(raw, "public");
            return { raw: toBuffer(raw) };
        },
        async ephemeralAgreement(peer) {
            const secretKey = x25519.utils.randomSecretKey();
            const ephemeralPublic = x25519.getPublicKey(secretKey);
            const sharedSecret = agree(secretKey, peer.raw);
            secretKey.fill(0);
            return { ephemeralPublic, sharedSecret };
        },
        async importPrivateKey(raw) {
            checkLength(raw, "private");
            return { kind: "x25519-private", raw: toBuffer(raw) } as NoblePrivateKey;
        },
        async agree(privateKey, peerPublic) {
            checkLength(peerPublic, "public");
            return agree((privateKey as NoblePrivateKey).raw, peerPublic);
        },
        async publicKeyFromPrivate(raw) {
            checkLength(raw, "private");
            return x25519.getPublicKey(raw);
        },
    };
}

/**
 * Picks the implementation for this platform: WebCrypto if it can generate an X25519 key pair and agree with it
 * (some engines know the name but lack parts of it), otherwise noble. Not cached; see `getX25519`.
 */
export async function selectX25519(subtle: SubtleCrypto | undefined): Promise<X25519> {
    if (subtle) {
        try {
            const pair = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
            await subtle.deriveBits({ name: "X25519", public: pair.publicKey }, pair.privateKey, 256);
            return webCryptoX25519(subtle);
        } catch {
            // Not supported: fall through to the library.
        }
    }
    return nobleX25519();
}

let cached: Promise<X25519> | undefined;

/** The platform's X25519, detected on first use and then reused. */
export function getX25519(): Promise<X25519> {
    cached ??= selectX25519(globalThis.crypto?.subtle);
    return cached;
}

/** Unpadded base64 of a 32-byte key, or a clear error; shared by the backup code for auth_data.public_key. */
export function decodeKey(base64: string, what: "public" | "private"): Uint8Array<ArrayBuffer> {
    let raw: Uint8Array<ArrayBuffer>;
    try {
        raw = decodeBase64(base64.trim());
    } catch (e) {
        throw new KeysError(
            what === "public" ? "backup_bad_public_key" : "backup_bad_private_key",
            `The backup ${what} key is not valid base64`,
            { cause: e },
        );
    }
    checkLength(raw, what);
    return raw;
}
