/**
 * Benchmark of the key-moving pipelines in src/keys (not a test: it prints figures).
 *
 *   npx tsx bench/keys.ts [--counts 5000,50000] [--batch 500] [--concurrency 16] [--rounds 500000] [--skip-key-file] [--noble]
 *                         [--compare 50000]
 *
 * (`npx` puts node_modules/.bin first on PATH, so this runs on the project's Node 22.)
 *
 * - Against Rust (`--compare N`, default 50,000; 0 skips it): the same N room keys encrypted for a backup by this
 *   project's encryptor and by `@matrix-org/matrix-sdk-crypto-wasm`'s `PkEncryption` (the Rust SDK's own backup
 *   encryptor, vodozemac) in one process, in alternating rounds of 5,000 so machine load hits both alike; both build
 *   the same upload bodies. One session of each is decrypted by the other side's format check (our decryptor), so
 *   both did the same work. Printed: sessions/s of each and their ratio.
 * - Backup: realistic exported room keys come from an async generator, stream through the backup encryptor in
 *   upload batches, and each batch is serialised as the upload body would be and then dropped. Printed: sessions/s,
 *   total time, peak RSS and heap. The same run with fewer sessions shows whether memory grows with the count.
 * - Key file: the same stream encrypted into an Element key file. The whole file is one string (that is the format),
 *   so its memory does grow with the count; PBKDF2's rounds are a fixed cost and dominate small exports.
 *
 * `--noble` forces the X25519 fallback used by browsers without WebCrypto X25519.
 *
 * Every measurement runs in a fresh child process so one run's garbage does not inflate the next one's peak.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pathToFileURL } from "node:url";

import * as RustCrypto from "@matrix-org/matrix-sdk-crypto-wasm";

import {
    BackupDecryptor,
    BackupEncryptor,
    type BackupSessionData,
    type ExportedRoomKey,
    type RoomKeysBody,
    backupBatches,
    backupPublicKeyFromPrivate,
    firstMessageIndex,
} from "../src/keys/backupCrypto.ts";
import { encodeUnpaddedBase64 } from "../src/keys/base64.ts";
import { DEFAULT_KEY_FILE_ROUNDS, encryptKeyFile } from "../src/keys/keyFile.ts";
import { nobleX25519 } from "../src/keys/x25519.ts";

interface Options {
    compare: number;
    counts: number[];
    batch: number;
    concurrency: number;
    rounds: number;
    skipKeyFile: boolean;
    noble: boolean;
}

interface Result {
    mode: "backup" | "key-file";
    count: number;
    node: string;
    x25519: string;
    seconds: number;
    /** Key file only: the PBKDF2 derivation alone, measured separately with the same rounds. */
    pbkdf2Seconds?: number;
    outputBytes: number;
    batches?: number;
    baseline: { rss: number; heapUsed: number };
    peak: { rss: number; heapUsed: number };
    /** Peaks in the first and second half of the sessions: equal when memory does not grow with the count. */
    halves: { rss: number; heapUsed: number }[];
    /** Heap still in use after a full GC at the end, over the baseline: what the pipeline kept. */
    retainedHeap: number;
    samples: number;
}

function parseOptions(argv: string[]): Options {
    const value = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    return {
        compare: Number(value("--compare") ?? 50_000),
        counts: (value("--counts") ?? "5000,50000").split(",").map(Number),
        batch: Number(value("--batch") ?? 500),
        concurrency: Number(value("--concurrency") ?? 16),
        rounds: Number(value("--rounds") ?? DEFAULT_KEY_FILE_ROUNDS),
        skipKeyFile: argv.includes("--skip-key-file"),
        noble: argv.includes("--noble"),
    };
}

// ---- The fixture: a stream, so the benchmark measures the pipeline and not an array of 50,000 keys.

/** Bytes from a seeded generator (xorshift32): the same fixture in every run and every child process. */
function seededBytes(seed: number): (length: number) => Uint8Array {
    let x = seed >>> 0 || 1;
    return (length) => {
        const out = new Uint8Array(length);
        for (let i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            out[i] = x & 0xff;
        }
        return out;
    };
}

/** Room keys shaped like `exportRoomKeys()` output: 165-byte exported session keys (version 1), spread over rooms. */
async function* exportedRoomKeys(count: number, seed = 11): AsyncGenerator<ExportedRoomKey> {
    const random = seededBytes(seed);
    const rooms = Array.from({ length: 400 }, (_, i) => `!${encodeUnpaddedBase64(random(12))}${i}:example.org`);
    const senders = Array.from({ length: 200 }, () => ({
        curve25519: encodeUnpaddedBase64(random(32)),
        ed25519: encodeUnpaddedBase64(random(32)),
    }));
    for (let i = 0; i < count; i++) {
        const sessionKey = random(165);
        sessionKey[0] = 1;
        // Most sessions are known from their start; some only from a later message.
        new DataView(sessionKey.buffer).setUint32(1, i % 10 === 0 ? i % 1000 : 0, false);
        const sender = senders[i % senders.length]!;
        yield {
            "algorithm": "m.megolm.v1.aes-sha2",
            "room_id": rooms[i % rooms.length]!,
            "session_id": encodeUnpaddedBase64(sessionKey.subarray(133)),
            "session_key": encodeUnpaddedBase64(sessionKey),
            "sender_key": sender.curve25519,
            "sender_claimed_keys": { ed25519: sender.ed25519 },
            "forwarding_curve25519_key_chain": i % 20 === 0 ? [senders[(i + 1) % senders.length]!.curve25519] : [],
            "org.matrix.msc3061.shared_history": i % 3 === 0,
        };
        // Let the memory sampler's timer run even if the consumer never waits on real I/O.
        if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
}

// ---- Memory sampling.

function memorySampler() {
    const peak = { rss: 0, heapUsed: 0 };
    const halves = [
        { rss: 0, heapUsed: 0 },
        { rss: 0, heapUsed: 0 },
    ];
    let half = 0;
    let samples = 0;
    const sample = () => {
        const { rss, heapUsed } = process.memoryUsage();
        for (const p of [peak, halves[half]!]) {
            p.rss = Math.max(p.rss, rss);
            p.heapUsed = Math.max(p.heapUsed, heapUsed);
        }
        samples++;
    };
    const timer = setInterval(sample, 5);
    sample();
    return {
        sample,
        secondHalf: () => {
            half = 1;
        },
        stop: () => {
            clearInterval(timer);
            sample();
            return { peak, halves, samples };
        },
    };
}

function collectGarbage(): void {
    (globalThis as { gc?: () => void }).gc?.();
}

// ---- One measurement (child process).

async function runChild(mode: Result["mode"], count: number, options: Options): Promise<Result> {
    // The new account's backup key; only its public half is needed to encrypt.
    const publicKey = await backupPublicKeyFromPrivate(crypto.getRandomValues(new Uint8Array(32)));
    const encryptor = await BackupEncryptor.create(publicKey, options.noble ? { x25519: await nobleX25519() } : {});
    // Warm-up: JIT and WebCrypto's worker threads, outside the measurement.
    for await (const _ of backupBatches(exportedRoomKeys(500), encryptor, {
        batchSize: options.batch,
        concurrency: options.concurrency,
    })) {
        // discarded
    }
    collectGarbage();
    const baseline = { rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed };
    const sampler = memorySampler();
    const started = performance.now();
    let outputBytes = 0;
    let batches = 0;
    let pbkdf2Seconds: number | undefined;

    if (mode === "backup") {
        for await (const batch of backupBatches(exportedRoomKeys(count), encryptor, {
            batchSize: options.batch,
            concurrency: options.concurrency,
        })) {
            // What an upload does with the batch; then it is dropped.
            outputBytes += JSON.stringify(batch.body).length;
            batches++;
            sampler.sample();
            if (batches * options.batch >= count / 2) sampler.secondHalf();
        }
    } else {
        const file = await encryptKeyFile(exportedRoomKeys(count), "correct horse battery staple", options.rounds);
        outputBytes = file.length;
    }
    const seconds = (performance.now() - started) / 1000;
    const { peak, halves, samples } = sampler.stop();
    collectGarbage();
    const retainedHeap = process.memoryUsage().heapUsed - baseline.heapUsed;

    if (mode === "key-file") {
        const subtle = crypto.subtle;
        const t = performance.now();
        const key = await subtle.importKey(
            "raw",
            new TextEncoder().encode("correct horse battery staple"),
            "PBKDF2",
            false,
            ["deriveBits"],
        );
        await subtle.deriveBits(
            { name: "PBKDF2", hash: "SHA-512", salt: new Uint8Array(16), iterations: options.rounds },
            key,
            512,
        );
        pbkdf2Seconds = (performance.now() - t) / 1000;
    }
    return {
        mode,
        count,
        node: process.version,
        x25519: encryptor.implementation,
        seconds,
        pbkdf2Seconds,
        outputBytes,
        batches: mode === "backup" ? batches : undefined,
        baseline,
        peak,
        halves,
        retainedHeap,
        samples,
    };
}

// ---- Against the Rust SDK's encryptor (child process).

export interface RustComparison {
    count: number;
    rounds: number;
    oursPerSecond: number;
    rustPerSecond: number;
    /** ours ÷ rust: ≥ 1 means never slower than the Rust SDK's own encryptor. */
    ratio: number;
    x25519: string;
}

/** What the Rust encryptor does for one room key, shaped as our encryptor's output (the upload's entry). */
function rustBackupEntry(pk: RustCrypto.PkEncryption, session: ExportedRoomKey): BackupSessionData {
    const { room_id: _roomId, session_id: _sessionId, ...backedUp } = session;
    const message = pk.encryptString(JSON.stringify(backedUp));
    const encoded = message.toBase64();
    const entry: BackupSessionData = {
        first_message_index: firstMessageIndex(session.session_key),
        forwarded_count: session.forwarding_curve25519_key_chain.length,
        is_verified: false,
        session_data: { ephemeral: encoded.ephemeralKey, ciphertext: encoded.ciphertext, mac: encoded.mac },
    };
    encoded.free();
    message.free();
    return entry;
}

async function runComparison(count: number, options: Options): Promise<RustComparison> {
    await RustCrypto.initAsync();
    const privateKey = seededBytes(7)(32);
    const publicKey = await backupPublicKeyFromPrivate(privateKey);
    const ours = await BackupEncryptor.create(publicKey);
    const pk = RustCrypto.PkEncryption.fromKey(new RustCrypto.Curve25519PublicKey(publicKey));
    const sessions: ExportedRoomKey[] = [];
    for await (const session of exportedRoomKeys(count)) sessions.push(session);

    const oursRound = async (slice: ExportedRoomKey[]) => {
        for await (const batch of backupBatches(slice, ours, {
            batchSize: options.batch,
            concurrency: options.concurrency,
        }))
            JSON.stringify(batch.body);
    };
    const rustRound = async (slice: ExportedRoomKey[]) => {
        for (let i = 0; i < slice.length; i += options.batch) {
            const body: RoomKeysBody = { rooms: {} };
            for (const session of slice.slice(i, i + options.batch)) {
                (body.rooms[session.room_id] ??= { sessions: {} }).sessions[session.session_id] = rustBackupEntry(
                    pk,
                    session,
                );
            }
            JSON.stringify(body);
            // Let timers and other work in (as the streaming pipeline does between batches).
            await new Promise((resolve) => setImmediate(resolve));
        }
    };
    // Same work: an entry made by each side decrypts with our decryptor to the same room key.
    const decryptor = await BackupDecryptor.create(privateKey);
    const probe = sessions[0]!;
    const fromRust = await decryptor.decrypt(rustBackupEntry(pk, probe).session_data);
    const fromOurs = await decryptor.decrypt((await ours.encrypt(probe)).session_data);
    if (fromRust.session_key !== probe.session_key || JSON.stringify(fromRust) !== JSON.stringify(fromOurs))
        throw new Error("The two encryptors do not produce the same backup entry");
    // Warm-up of both, outside the measurement.
    await oursRound(sessions.slice(0, 500));
    await rustRound(sessions.slice(0, 500));

    const roundSize = 5000;
    let oursMs = 0;
    let rustMs = 0;
    let rounds = 0;
    for (let start = 0; start < sessions.length; start += roundSize, rounds++) {
        const slice = sessions.slice(start, start + roundSize);
        const timed = async (run: (s: ExportedRoomKey[]) => Promise<void>) => {
            const t = performance.now();
            await run(slice);
            return performance.now() - t;
        };
        // Alternate who goes first, so a burst of load elsewhere does not always hit the same side.
        if (rounds % 2 === 0) {
            oursMs += await timed(oursRound);
            rustMs += await timed(rustRound);
        } else {
            rustMs += await timed(rustRound);
            oursMs += await timed(oursRound);
        }
    }
    pk.free();
    const oursPerSecond = count / (oursMs / 1000);
    const rustPerSecond = count / (rustMs / 1000);
    return {
        count,
        rounds,
        oursPerSecond,
        rustPerSecond,
        ratio: oursPerSecond / rustPerSecond,
        x25519: ours.implementation,
    };
}

function runInChild(mode: Result["mode"] | "compare", count: number, argv: string[]): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            process.execPath,
            [
                ...process.execArgv,
                "--expose-gc",
                fileURLToPath(import.meta.url),
                "--child",
                mode,
                String(count),
                ...argv,
            ],
            { stdio: ["ignore", "pipe", "inherit"] },
        );
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => {
            if (code !== 0) return reject(new Error(`benchmark child (${mode}, ${count}) exited with ${code}`));
            resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Result);
        });
    });
}

// ---- Report.

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

function describe(r: Result): string {
    const lines = [
        `${r.mode === "backup" ? "Backup encryption" : "Key file encryption"}: ${r.count.toLocaleString("en")} sessions`,
        `  total ${r.seconds.toFixed(2)} s, ${Math.round(r.count / r.seconds).toLocaleString("en")} sessions/s` +
            (r.batches !== undefined
                ? `, ${r.batches} upload batches, ${mb(r.outputBytes)} of upload bodies`
                : `, file ${mb(r.outputBytes)}`),
        `  peak RSS ${mb(r.peak.rss)} (+${mb(r.peak.rss - r.baseline.rss)} over the ${mb(r.baseline.rss)} baseline), ` +
            `peak heap ${mb(r.peak.heapUsed)} (+${mb(r.peak.heapUsed - r.baseline.heapUsed)}); ${r.samples} samples`,
    ];
    if (r.mode === "backup") {
        lines.push(
            `  peak heap in the first / second half of the sessions: ${mb(r.halves[0]!.heapUsed)} / ${mb(r.halves[1]!.heapUsed)}; ` +
                `heap kept after a full GC at the end: ${mb(r.retainedHeap)}`,
        );
    }
    if (r.pbkdf2Seconds !== undefined) {
        lines.push(
            `  of which PBKDF2 (fixed cost, independent of the session count): ~${r.pbkdf2Seconds.toFixed(2)} s; ` +
                `AES-CTR, HMAC, JSON and base64: ~${Math.max(0, r.seconds - r.pbkdf2Seconds).toFixed(2)} s`,
        );
    }
    return lines.join("\n");
}

export interface KeysFigures {
    backup: Result[];
    comparison?: RustComparison;
}

/** Runs the measurements (each in a fresh child process), prints them, and returns them. */
export async function benchKeys(argv: string[]): Promise<KeysFigures> {
    const options = parseOptions(argv);
    console.log(
        `Node ${process.version}; batch ${options.batch}, concurrency ${options.concurrency}, key file rounds ${options.rounds}`,
    );
    if (Number(process.versions.node.split(".")[0]) < 22)
        console.log("Warning: not Node 22 (run with `npx tsx bench/keys.ts`).");

    let comparison: RustComparison | undefined;
    if (options.compare > 0) {
        comparison = (await runInChild("compare", options.compare, argv)) as unknown as RustComparison;
        console.log(
            `\nBackup encryption vs the Rust SDK's PkEncryption, the same ${comparison.count.toLocaleString("en")} room keys in ${comparison.rounds} alternating rounds: ` +
                `ours ${Math.round(comparison.oursPerSecond).toLocaleString("en")} sessions/s (X25519: ${comparison.x25519}), ` +
                `Rust ${Math.round(comparison.rustPerSecond).toLocaleString("en")} sessions/s → ${comparison.ratio.toFixed(2)}×`,
        );
    }

    const counts = [...options.counts].sort((a, b) => a - b);
    const backup: Result[] = [];
    for (const count of counts) {
        const r = await runInChild("backup", count, argv);
        backup.push(r);
        console.log(`\n${describe(r)}\n  X25519: ${r.x25519}`);
    }
    if (backup.length >= 2) {
        const small = backup[0]!;
        const large = backup.at(-1)!;
        const growth = (pick: (r: Result) => number) => (pick(large) / pick(small)).toFixed(2);
        console.log(
            `\nBackup memory, ${large.count.toLocaleString("en")} vs ${small.count.toLocaleString("en")} sessions ` +
                `(${(large.count / small.count).toFixed(0)}x the sessions): peak RSS ratio ${growth((r) => r.peak.rss)}, ` +
                `peak heap ratio ${growth((r) => r.peak.heapUsed)}, ` +
                `peak RSS growth over baseline ${mb(small.peak.rss - small.baseline.rss)} → ${mb(large.peak.rss - large.baseline.rss)}, ` +
                `heap kept after GC ${mb(small.retainedHeap)} → ${mb(large.retainedHeap)}. ` +
                "(Peaks move with when V8 chooses to collect; what is kept does not grow.)",
        );
    }
    if (!options.skipKeyFile) {
        for (const count of counts) {
            const r = await runInChild("key-file", count, argv);
            console.log(`\n${describe(r)}`);
        }
        console.log(
            "\nNote: a key file is one string (the format has a single MAC over the whole body), so its memory grows " +
                "with the number of sessions; the backup pipeline's does not.",
        );
    }
    return { backup, comparison };
}

async function child(argv: string[]): Promise<void> {
    const options = parseOptions(argv);
    const mode = argv[1] as Result["mode"] | "compare";
    const count = Number(argv[2]);
    const result = mode === "compare" ? await runComparison(count, options) : await runChild(mode, count, options);
    process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const argv = process.argv.slice(2);
    await (argv[0] === "--child" ? child(argv) : benchKeys(argv));
}
