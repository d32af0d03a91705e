/**
 * Benchmark of the key-moving pipelines in src/keys (not a test: it prints figures).
 *
 *   npx tsx bench/keys.ts [--counts 5000,50000] [--batch 500] [--concurrency 16] [--rounds 500000] [--skip-key-file] [--noble]
 *
 * (`npx` puts node_modules/.bin first on PATH, so this runs on the project's Node 22.)
 *
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
import { BackupEncryptor, backupBatches, backupPublicKeyFromPrivate, type ExportedRoomKey } from "../src/keys/backupCrypto.ts";
import { encodeUnpaddedBase64 } from "../src/keys/base64.ts";
import { DEFAULT_KEY_FILE_ROUNDS, encryptKeyFile } from "../src/keys/keyFile.ts";
import { nobleX25519 } from "../src/keys/x25519.ts";

interface Options {
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
        counts: (value("--counts") ?? "5000,50000").split(",").map(Number),
        batch: Number(value("--batch") ?? 500),
        concurrency: Number(value("--concurrency") ?? 16),
        rounds: Number(value("--rounds") ?? DEFAULT_KEY_FILE_ROUNDS),
        skipKeyFile: argv.includes("--skip-key-file"),
        noble: argv.includes("--noble"),
    };
}

// ---- The fixture: a stream, so the benchmark measures the pipeline and not an array of 50,000 keys.

/** Room keys shaped like `exportRoomKeys()` output: 165-byte exported session keys (version 1), spread over rooms. */
async function* exportedRoomKeys(count: number): AsyncGenerator<ExportedRoomKey> {
    const rooms = Array.from({ length: 400 }, (_, i) => `!${encodeUnpaddedBase64(crypto.getRandomValues(new Uint8Array(12)))}${i}:example.org`);
    const senders = Array.from({ length: 200 }, () => ({
        curve25519: encodeUnpaddedBase64(crypto.getRandomValues(new Uint8Array(32))),
        ed25519: encodeUnpaddedBase64(crypto.getRandomValues(new Uint8Array(32))),
    }));
    for (let i = 0; i < count; i++) {
        const sessionKey = new Uint8Array(165);
        crypto.getRandomValues(sessionKey);
        sessionKey[0] = 1;
        // Most sessions are known from their start; some only from a later message.
        new DataView(sessionKey.buffer).setUint32(1, i % 10 === 0 ? i % 1000 : 0, false);
        const sender = senders[i % senders.length]!;
        yield {
            algorithm: "m.megolm.v1.aes-sha2",
            room_id: rooms[i % rooms.length]!,
            session_id: encodeUnpaddedBase64(sessionKey.subarray(133)),
            session_key: encodeUnpaddedBase64(sessionKey),
            sender_key: sender.curve25519,
            sender_claimed_keys: { ed25519: sender.ed25519 },
            forwarding_curve25519_key_chain: i % 20 === 0 ? [senders[(i + 1) % senders.length]!.curve25519] : [],
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
    for await (const _ of backupBatches(exportedRoomKeys(500), encryptor, { batchSize: options.batch, concurrency: options.concurrency })) {
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
        for await (const batch of backupBatches(exportedRoomKeys(count), encryptor, { batchSize: options.batch, concurrency: options.concurrency })) {
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
        const key = await subtle.importKey("raw", new TextEncoder().encode("correct horse battery staple"), "PBKDF2", false, ["deriveBits"]);
        await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-512", salt: new Uint8Array(16), iterations: options.rounds }, key, 512);
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

function runInChild(mode: Result["mode"], count: number, argv: string[]): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(
            process.execPath,
            [...process.execArgv, "--expose-gc", fileURLToPath(import.meta.url), "--child", mode, String(count), ...argv],
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
            (r.batches !== undefined ? `, ${r.batches} upload batches, ${mb(r.outputBytes)} of upload bodies` : `, file ${mb(r.outputBytes)}`),
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

async function main(): Promise<void> {
    const argv = process.argv.slice(2);
    const options = parseOptions(argv);
    if (argv[0] === "--child") {
        const result = await runChild(argv[1] as Result["mode"], Number(argv[2]), options);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
    }
    console.log(`Node ${process.version}; batch ${options.batch}, concurrency ${options.concurrency}, key file rounds ${options.rounds}`);
    if (Number(process.versions.node.split(".")[0]) < 22) console.log("Warning: not Node 22 (run with `npx tsx bench/keys.ts`).");

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
}

await main();
