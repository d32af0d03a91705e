/**
 * Helpers for the src/keys tests (not shipped: only test files import this): the Rust crypto library as the
 * reference implementation, and room keys in the real export format.
 */
import type * as RustCrypto from "@matrix-org/matrix-sdk-crypto-wasm";
import { ed25519 } from "@noble/curves/ed25519.js";
import type { ExportedRoomKey } from "./backupCrypto.ts";
import { encodeUnpaddedBase64 } from "./base64.ts";

let rust: Promise<typeof RustCrypto> | undefined;

/** The Rust crypto WASM, initialised once per test file. */
export function loadRustCrypto(): Promise<typeof RustCrypto> {
    rust ??= (async () => {
        const wasm = await import("@matrix-org/matrix-sdk-crypto-wasm");
        await wasm.initAsync();
        return wasm;
    })();
    return rust;
}

function random(length: number): Uint8Array {
    return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/**
 * A room key as `exportRoomKeys()` gives it, made up but well-formed enough for the Rust library to import: the
 * exported session key format (version 1 | u32 index | 128-byte ratchet | Ed25519 signing key), whose signing key
 * is also the session id, and a valid Ed25519 key as the claimed sender key.
 */
export function makeExportedRoomKey(
    options: {
        roomId?: string;
        firstIndex?: number;
        forwardingChainLength?: number;
        extra?: Record<string, unknown>;
    } = {},
): ExportedRoomKey {
    const signing = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const sessionKey = new Uint8Array(165);
    sessionKey[0] = 1;
    new DataView(sessionKey.buffer).setUint32(1, options.firstIndex ?? 0, false);
    sessionKey.set(random(128), 5);
    sessionKey.set(signing, 133);
    return {
        algorithm: "m.megolm.v1.aes-sha2",
        room_id: options.roomId ?? "!room:example.org",
        session_id: encodeUnpaddedBase64(signing),
        session_key: encodeUnpaddedBase64(sessionKey),
        sender_key: encodeUnpaddedBase64(random(32)),
        sender_claimed_keys: { ed25519: encodeUnpaddedBase64(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) },
        forwarding_curve25519_key_chain: Array.from({ length: options.forwardingChainLength ?? 0 }, () =>
            encodeUnpaddedBase64(random(32)),
        ),
        ...options.extra,
    };
}

/** A Rust OlmMachine with an in-memory store (no server involved). */
export async function makeOlmMachine(): Promise<RustCrypto.OlmMachine> {
    const wasm = await loadRustCrypto();
    return wasm.OlmMachine.initialize(new wasm.UserId("@alice:example.org"), new wasm.DeviceId("TESTDEVICE"));
}
