import { MatrixRequestError } from "../sessions/matrixHttp.ts";
import {
    type BucketName,
    InviteRefusedError,
    MAX_PAUSE_MS,
    Scheduler,
    type SchedulerClock,
    ServerKeepsRefusingError,
    type WaitNotice,
    realClock,
} from "./scheduler.ts";

/**
 * Virtual time: `sleep` registers a timer, and once nothing else can run (every promise is waiting on a timer),
 * time jumps to the earliest timer. No real waiting, and concurrent sleeps overlap as they would in real time.
 */
class VirtualClock implements SchedulerClock {
    private time = 0;
    private timers: Array<{ at: number; wake: () => void }> = [];

    public now(): number {
        return this.time;
    }

    public sleep(ms: number): Promise<void> {
        return new Promise((wake) => {
            this.timers.push({ at: this.time + Math.max(0, ms), wake });
            // setImmediate runs after every pending promise callback: everything left is waiting on a timer.
            setImmediate(() => this.fireEarliest());
        });
    }

    private fireEarliest(): void {
        if (!this.timers.length) return;
        this.time = Math.max(this.time, Math.min(...this.timers.map((t) => t.at)));
        const due = this.timers.filter((t) => t.at <= this.time);
        this.timers = this.timers.filter((t) => t.at > this.time);
        for (const t of due) t.wake();
    }
}

const rateLimited = (retryAfterMs?: number) =>
    new MatrixRequestError("POST", "/x", 429, "M_LIMIT_EXCEEDED", "Too many requests", retryAfterMs, {});
const badGateway = () =>
    new MatrixRequestError("POST", "/rooms/!r/invite", 502, undefined, "Can't connect to server", undefined, undefined);
const gatewayTimeout = () =>
    new MatrixRequestError("POST", "/rooms/!r/invite", 504, undefined, "Timed out", undefined, undefined);
const unreachable = () => new MatrixRequestError("GET", "/x", 0, undefined, "fetch failed", undefined, undefined);
const forbidden = () => new MatrixRequestError("POST", "/x", 403, "M_FORBIDDEN", "You are not invited", undefined, {});

function setUp(options: { maxInviteRefusals?: number; maxRetries?: number; maxRateLimited?: number } = {}) {
    const clock = new VirtualClock();
    const waits: WaitNotice[] = [];
    const scheduler = new Scheduler({ clock, onWait: (n) => waits.push(n), ...options });
    /** A request that fails with the given errors in turn, then answers `value`; records when each attempt started. */
    const scripted = <T>(errors: unknown[], value: T, durationMs = 0) => {
        const starts: number[] = [];
        const request = async () => {
            starts.push(clock.now());
            if (durationMs) await clock.sleep(durationMs);
            const error = errors[starts.length - 1];
            if (error !== undefined) throw error;
            return value;
        };
        return { request, starts };
    };
    return { clock, waits, scheduler, scripted };
}

describe("rate limits (429)", () => {
    test("a 429 with Retry-After waits that long, retries, then paces the bucket's following requests (probing 10 % faster while unhindered)", async () => {
        const { scheduler, scripted, waits } = setUp();
        const first = scripted([rateLimited(5000)], "joined");
        await expect(scheduler.run("new:join", first.request)).resolves.toBe("joined");
        expect(first.starts).toEqual([0, 5000]);
        expect(waits).toEqual([{ bucket: "new:join", ms: 5000, reason: "rate-limited" }]);

        const second = scripted([], "joined");
        const third = scripted([], "joined");
        await scheduler.run("new:join", second.request);
        await scheduler.run("new:join", third.request);
        expect([...second.starts, ...third.starts]).toEqual([10_000, 14_500]);
        expect(scheduler.stats()["new:join"]).toMatchObject({ done: 3, minIntervalMs: 4050, limitedWaitMs: 5000 });
    });

    test("a burst of 429s once does not slow a bucket for good: unhindered, its pacing fades out", async () => {
        const { scheduler, scripted, clock } = setUp();
        await scheduler.run("old:read", scripted([rateLimited(2000)], "read").request);
        for (let i = 0; i < 20; i++) await scheduler.run("old:read", scripted([], "read").request);
        expect(scheduler.stats()["old:read"].minIntervalMs).toBe(0);
        const t = clock.now();
        // Back to four reads side by side.
        await Promise.all(
            Array.from({ length: 4 }, () => scheduler.run("old:read", scripted([], "read", 1000).request)),
        );
        expect(clock.now() - t).toBe(1000);
    });

    test("after a 429 the retry goes when the server said, not a whole interval after the refused attempt", async () => {
        const { scheduler, scripted } = setUp();
        await scheduler.run("new:join", scripted([], "joined").request);
        await scheduler.run("new:join", scripted([rateLimited(10_000)], "joined").request); // learned: 10 s
        await scheduler.run("new:join", scripted([], "joined").request); // at 20 s, unhindered: next probe 10 % sooner
        const probe = scripted([rateLimited(1000)], "joined");
        await scheduler.run("new:join", probe.request);
        expect(probe.starts).toEqual([29_000, 30_000]);
    });

    test("a 429 without Retry-After backs off 1 s, then 2 s, …", async () => {
        const { scheduler, scripted, waits } = setUp();
        const r = scripted([rateLimited(), rateLimited()], "ok");
        await scheduler.run("old:state", r.request);
        expect(waits.map((w) => w.ms)).toEqual([1000, 2000]);
        expect(r.starts).toEqual([0, 1000, 3000]);
    });

    test("pacing learned in one bucket does not slow another", async () => {
        const { scheduler, scripted, clock } = setUp();
        await scheduler.run("new:join", scripted([rateLimited(60_000)], "ok").request);
        const t = clock.now();
        const read = scripted([], "ok");
        await scheduler.run("new:read", read.request);
        expect(read.starts).toEqual([t]);
    });
});

describe("invite refusals (502/504 from the inviting server)", () => {
    test("a refused invite is retried after growing waits: 15 s, 30 s, 60 s, 120 s, 240 s, then 340 s each", async () => {
        const { scheduler, scripted, waits } = setUp();
        const refusals = [
            badGateway(),
            gatewayTimeout(),
            badGateway(),
            badGateway(),
            badGateway(),
            badGateway(),
            badGateway(),
        ];
        const r = scripted(refusals, "invited");
        await expect(scheduler.run("old:invite", r.request)).resolves.toBe("invited");
        expect(waits.every((w) => w.bucket === "old:invite" && w.reason === "invite-refused")).toBe(true);
        expect(waits.map((w) => w.ms / 1000)).toEqual([15, 30, 60, 120, 240, 340, 340]);
        expect(r.starts).toEqual([0, 15, 45, 105, 225, 465, 805, 1145].map((s) => s * 1000));
    });

    test("after a successful invite, with no pace learned yet, the waits start again at 15 s", async () => {
        const { scheduler, scripted, waits } = setUp();
        await scheduler.run("old:invite", scripted([badGateway(), badGateway()], "invited").request);
        await scheduler.run("old:invite", scripted([badGateway()], "invited").request);
        expect(waits.map((w) => w.ms / 1000)).toEqual([15, 30, 15]);
    });

    test("the refill interval is learned between the last refused and the accepted attempt, then probed downwards", async () => {
        const { scheduler, scripted, clock } = setUp();
        await scheduler.run("old:invite", scripted([], "invited").request);
        // Refused at 0 s and 15 s, accepted at 45 s: one invite frees up somewhere after 15 s and by 45 s.
        await scheduler.run("old:invite", scripted([badGateway(), badGateway()], "invited").request);
        expect(scheduler.stats()["old:invite"].minIntervalMs).toBe(30_000);
        const before = clock.now();
        const next = scripted([], "invited");
        await scheduler.run("old:invite", next.request);
        // Paced at what was learned: 30 s after the accepted invite.
        expect(next.starts[0] - before).toBe(30_000);
        // Accepted without a refusal: the pace is tried 10 % faster.
        expect(scheduler.stats()["old:invite"].minIntervalMs).toBe(27_000);
    });

    test("after a 429, the spacing of the two successes is the learned interval", async () => {
        const { scheduler, scripted } = setUp();
        await scheduler.run("new:join", scripted([], "joined").request);
        await scheduler.run("new:join", scripted([rateLimited(40_000)], "joined").request);
        expect(scheduler.stats()["new:join"].minIntervalMs).toBe(40_000);
    });

    test("the invite is given up with InviteRefusedError after maxInviteRefusals refusals, reporting how many there were", async () => {
        const { scheduler, scripted, waits } = setUp({ maxInviteRefusals: 3 });
        const r = scripted(Array.from({ length: 10 }, badGateway), "invited");
        const error = await scheduler.run("old:invite", r.request).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InviteRefusedError);
        // Every attempt was refused: the error must report exactly the refusals that happened, and stop at the limit.
        expect((error as InviteRefusedError).refusals).toBe(r.starts.length);
        expect(r.starts).toHaveLength(3);
        expect(waits.map((w) => w.ms / 1000)).toEqual([15, 30]);
    });

    test("a 502 in any other bucket is a server error: retried maxRetries times with growing waits, then thrown", async () => {
        const { scheduler, scripted, waits } = setUp({ maxRetries: 2 });
        const error = badGateway();
        const r = scripted([error, badGateway(), error, error], "ok");
        await expect(scheduler.run("new:join", r.request)).rejects.toBe(error);
        expect(r.starts).toEqual([0, 1000, 3000]);
        expect(waits).toEqual([
            { bucket: "new:join", ms: 1000, reason: "server-error" },
            { bucket: "new:join", ms: 2000, reason: "server-error" },
        ]);
    });

    test("an unreachable server (status 0) is retried as 'unreachable'", async () => {
        const { scheduler, scripted, waits } = setUp();
        await expect(scheduler.run("new:read", scripted([unreachable()], "ok").request)).resolves.toBe("ok");
        expect(waits).toEqual([{ bucket: "new:read", ms: 1000, reason: "unreachable" }]);
    });
});

describe("errors that are not retried", () => {
    test("an error that is not a Matrix request error is thrown at once", async () => {
        const { scheduler, scripted, waits } = setUp();
        const bug = new TypeError("undefined is not a function");
        const r = scripted([bug], "ok");
        await expect(scheduler.run("old:invite", r.request)).rejects.toBe(bug);
        expect(r.starts).toHaveLength(1);
        expect(waits).toEqual([]);
    });

    test("a Matrix error other than 429 or a server error (403 M_FORBIDDEN) is thrown at once", async () => {
        const { scheduler, scripted, waits } = setUp();
        const r = scripted([forbidden()], "ok");
        await expect(scheduler.run("old:invite", r.request)).rejects.toMatchObject({
            httpStatus: 403,
            errcode: "M_FORBIDDEN",
        });
        expect(r.starts).toHaveLength(1);
        expect(waits).toEqual([]);
    });

    test("a bucket is free again after a request threw", async () => {
        const { scheduler, scripted } = setUp();
        await scheduler.run("old:invite", scripted([forbidden()], "ok").request).catch(() => undefined);
        await expect(scheduler.run("old:invite", scripted([], "next").request)).resolves.toBe("next");
    });
});

describe("concurrency", () => {
    async function maxInFlight(bucket: BucketName, count: number): Promise<{ max: number; end: number }> {
        const { scheduler, clock } = setUp();
        let inFlight = 0;
        let max = 0;
        const request = async () => {
            inFlight++;
            max = Math.max(max, inFlight);
            await clock.sleep(1000);
            inFlight--;
        };
        await Promise.all(Array.from({ length: count }, () => scheduler.run(bucket, request)));
        return { max, end: clock.now() };
    }

    test("old:invite never has two invites in flight", async () => {
        expect(await maxInFlight("old:invite", 5)).toEqual({ max: 1, end: 5000 });
    });

    test("old:read runs four reads side by side", async () => {
        expect(await maxInFlight("old:read", 8)).toEqual({ max: 4, end: 2000 });
    });

    test("a bucket waiting on a 429 still runs one request at a time once the pause is over", async () => {
        const { scheduler, scripted } = setUp();
        const a = scripted([rateLimited(3000)], "a");
        const b = scripted([], "b");
        const c = scripted([], "c");
        await Promise.all([
            scheduler.run("new:join", a.request),
            scheduler.run("new:join", b.request),
            scheduler.run("new:join", c.request),
        ]);
        const starts = [...a.starts.slice(1), ...b.starts, ...c.starts].sort((x, y) => x - y);
        // Spaced at the Retry-After, probing 10 % faster after each unhindered success.
        expect(starts).toEqual([3000, 6000, 8700]);
    });
});

describe("ETA", () => {
    test("with nothing learned yet, the bucket with most left decides", () => {
        const { scheduler } = setUp();
        scheduler.expect("new:join", 2);
        scheduler.expect("old:invite", 10);
        expect(scheduler.eta()).toEqual({ ms: 500, dominatedBy: "old:invite", inviteLimited: false });
    });

    test("after invite refusals, the invite pace dominates and the ETA says it is invite-limited", async () => {
        const { scheduler, scripted } = setUp();
        scheduler.expect("old:invite", 10);
        scheduler.expect("new:join", 10);
        await scheduler.run("old:invite", scripted([badGateway()], "invited").request);
        const eta = scheduler.eta();
        expect(eta).toMatchObject({ dominatedBy: "old:invite", inviteLimited: true });
        // Paced at the 15 s the refusal made it wait: the next in 15 s, then eight more 15 s apart, then the last's duration.
        expect(eta.ms).toBe(15_000 + 8 * 15_000 + 50);
    });

    test("a slower bucket than the invites takes over the ETA, and then it is not invite-limited", async () => {
        const { scheduler, scripted } = setUp();
        scheduler.expect("old:invite", 3);
        scheduler.expect("new:join", 100);
        await scheduler.run("old:invite", scripted([badGateway()], "invited").request);
        await scheduler.run("new:join", scripted([rateLimited(5000)], "joined").request);
        expect(scheduler.eta()).toEqual({ ms: 99 * 5000 + 50, dominatedBy: "new:join", inviteLimited: false });
    });

    test("time still to wait in a pause counts", async () => {
        const { scheduler, scripted, clock } = setUp();
        scheduler.expect("new:join", 2);
        const pending = scheduler.run("new:join", scripted([rateLimited(8000)], "joined").request);
        await clock.sleep(2000); // 2 s into the 8 s pause
        // The paused request goes at 8 s, the other one 8 s later: 14 s from now (plus the last one's duration).
        expect(scheduler.eta().ms).toBe(6000 + 8000 + 50);
        await pending;
    });

    test("nothing expected, nothing left", () => {
        expect(setUp().scheduler.eta()).toEqual({ ms: 0, dominatedBy: undefined, inviteLimited: false });
    });
});

describe("ETA from what the servers reveal", () => {
    /**
     * A model of a Synapse rate limiter (synapse/api/ratelimiting.py): a bucket of `burst` actions that drains one
     * action per interval; a refused attempt is not counted and is told when the next action will be allowed.
     */
    function synapseLimiter(clock: SchedulerClock, burst: number, intervalMs: number) {
        let count = 0;
        let start = 0;
        return (): number | undefined => {
            const now = clock.now();
            let performed = count - (now - start) / intervalMs;
            if (performed < 0) {
                performed = 0;
                count = 0;
                start = now;
            }
            if (performed > burst - 1) return Math.max(0, start + (count - burst + 1) * intervalMs - now);
            count++;
            return undefined;
        };
    }

    /**
     * Runs `n` invites through old:invite against a limiter, sampling the ETA every virtual second, and returns the
     * ETA ÷ the real remaining time at 25 / 50 / 75 % of the run, and at its start.
     */
    async function etaRatios(options: {
        n: number;
        limiter: (clock: SchedulerClock) => () => number | undefined;
        /** How the refusal reaches the engine: a 429 with Retry-After in whole seconds, or the inviting server's 502 after `refusalMs`. */
        refusal: "429" | "502";
        latencyMs?: number;
        refusalMs?: number;
    }) {
        const { scheduler, clock } = setUp();
        scheduler.expect("old:invite", options.n, { free: 5, intervalMs: 333_000 });
        const allowed = options.limiter(clock);
        const request = async () => {
            await clock.sleep(options.latencyMs ?? 300);
            const retryMs = allowed();
            if (retryMs === undefined) return "invited";
            if (options.refusal === "502") {
                await clock.sleep(options.refusalMs ?? 6000);
                throw badGateway();
            }
            throw rateLimited(Math.ceil(retryMs / 1000) * 1000);
        };
        const samples: Array<{ t: number; eta: number }> = [];
        let finished = false;
        const all = Promise.all(Array.from({ length: options.n }, () => scheduler.run("old:invite", request))).finally(
            () => (finished = true),
        );
        void (async () => {
            while (!finished) {
                samples.push({ t: clock.now(), eta: scheduler.eta().ms });
                await clock.sleep(1000);
            }
        })();
        await all;
        const end = clock.now();
        const at = (f: number) => {
            const sample = [...samples].reverse().find((x) => x.t <= f * end)!;
            return +(sample.eta / (end - sample.t)).toFixed(2);
        };
        return { first: at(0), quarters: [at(0.25), at(0.5), at(0.75)], end };
    }

    test("429 path: before any limit is met the assumed default stands; then the ETA follows the server's pace (0.8–1.25×)", async () => {
        // Synapse's default burst of 5 invites, refilled every 10 s (its default rate × 33): what the scaled test bed runs.
        const r = await etaRatios({ n: 40, limiter: (clock) => synapseLimiter(clock, 5, 10_000), refusal: "429" });
        expect(r.first).toBeGreaterThan(10); // (40 − 5) × 333 s assumed, where the server is 33 times faster
        for (const q of r.quarters) {
            expect(q).toBeGreaterThanOrEqual(0.8);
            expect(q).toBeLessThanOrEqual(1.25);
        }
    });

    test("429 path at Synapse's real defaults: the assumed default is right from the start", async () => {
        const r = await etaRatios({ n: 12, limiter: (clock) => synapseLimiter(clock, 5, 333_000), refusal: "429" });
        for (const q of [r.first, ...r.quarters]) {
            expect(q).toBeGreaterThanOrEqual(0.8);
            expect(q).toBeLessThanOrEqual(1.25);
        }
    });

    test("502 path (the receiving server refuses; each refusal takes the inviting server 6 s): the ETA follows the pace achieved", async () => {
        const r = await etaRatios({
            n: 30,
            limiter: (clock) => synapseLimiter(clock, 5, 20_000),
            refusal: "502",
            refusalMs: 6000,
        });
        for (const q of r.quarters) {
            expect(q).toBeGreaterThanOrEqual(0.8);
            expect(q).toBeLessThanOrEqual(1.25);
        }
    });

    test("the first 429 reveals the interval: (now + Retry-After − first success) ÷ (successes past the assumed burst)", async () => {
        const { scheduler, scripted, clock } = setUp();
        scheduler.expect("old:invite", 20, { free: 5, intervalMs: 333_000 });
        for (let i = 0; i < 5; i++) await scheduler.run("old:invite", scripted([], "invited", 200).request);
        // The server's bucket was full at 0 s and refills every 12 s: the sixth invite may go at 12 s.
        const sixth = scheduler.run("old:invite", scripted([rateLimited(12_000 - 1000)], "invited").request);
        await clock.sleep(1);
        // 15 invites left: the next at 12 s, then 14 more 12 s apart (not 333 s, nor the 11 s Retry-After).
        expect(scheduler.eta().ms).toBe(12_000 - clock.now() + 14 * 12_000 + 200);
        await sixth;
    });

    test("requests a room will not make after all are taken back", () => {
        const { scheduler } = setUp();
        scheduler.expect("old:invite", 3, { free: 0, intervalMs: 100_000 });
        expect(scheduler.eta().ms).toBe(300_000);
        scheduler.expect("old:invite", -2);
        expect(scheduler.eta().ms).toBe(100_000);
    });
});

describe("poll", () => {
    test("re-checks every interval until the check is done", async () => {
        const { scheduler, clock } = setUp();
        let n = 0;
        const value = await scheduler.poll(
            async () => ++n,
            (v) => v >= 3,
            10_000,
            500,
        );
        expect(value).toBe(3);
        expect(clock.now()).toBe(1000);
    });

    test("gives back the last value at the timeout", async () => {
        const { scheduler, clock } = setUp();
        let n = 0;
        const value = await scheduler.poll(
            async () => ++n,
            () => false,
            1000,
            300,
        );
        expect(clock.now()).toBe(1200);
        expect(value).toBe(5);
    });
});

describe("issue 7.9: a server that keeps refusing cannot stall or spin the run", () => {
    test("a Retry-After of years waits at most MAX_PAUSE_MS before trying again", async () => {
        const { scheduler, scripted, waits } = setUp();
        const years = 3 * 365 * 24 * 3600_000;
        const r = scripted([rateLimited(years)], "ok");
        await expect(scheduler.run("new:join", r.request)).resolves.toBe("ok");
        expect(waits.map((w) => w.ms)).toEqual([MAX_PAUSE_MS]);
        expect(r.starts).toEqual([0, MAX_PAUSE_MS]);
    });

    test("after maxRateLimited refusals in a row the step gives up with a clear reason", async () => {
        const { scheduler, scripted } = setUp({ maxRateLimited: 4 });
        const r = scripted(
            Array.from({ length: 10 }, () => rateLimited(60_000)),
            "never",
        );
        const failure = scheduler.run("old:state", r.request);
        await expect(failure).rejects.toBeInstanceOf(ServerKeepsRefusingError);
        await expect(failure).rejects.toThrow(/kept asking to slow down \(4 times in a row over 4 min\)/);
        expect(r.starts).toHaveLength(5);
    });

    test("the real clock never hands setTimeout more than 2^31 - 1 ms (which would fire at once)", async () => {
        const seen: number[] = [];
        const original = globalThis.setTimeout;
        globalThis.setTimeout = ((fn: () => void, ms?: number) => {
            seen.push(ms ?? 0);
            return original(fn, 0);
        }) as typeof setTimeout;
        try {
            await realClock.sleep(2 ** 40);
            await realClock.sleep(Number.POSITIVE_INFINITY);
            await realClock.sleep(-5);
        } finally {
            globalThis.setTimeout = original;
        }
        expect(seen).toEqual([2 ** 31 - 1, 2 ** 31 - 1, 0]);
    });

    test("a server not answering is waited out as 'not-answering', then the step fails", async () => {
        const { scheduler, scripted, waits } = setUp({ maxRetries: 2 });
        const notAnswering = () =>
            new MatrixRequestError("GET", "/x", 0, undefined, "no answer within 60 s", undefined, undefined, true);
        const r = scripted([notAnswering(), notAnswering(), notAnswering()], "never");
        await expect(scheduler.run("new:read", r.request)).rejects.toThrow(
            /the server is not answering \(no answer within 60 s\)/,
        );
        expect(waits.map((w) => w.reason)).toEqual(["not-answering", "not-answering"]);
    });

    test("paused, no new request is sent; one already under way finishes; resumed, the held one goes", async () => {
        let resume!: () => void;
        let gate: Promise<void> | null = null;
        const scheduler = new Scheduler({ whilePaused: () => gate ?? Promise.resolve() });
        const sent: string[] = [];
        let finishFirst!: () => void;
        const first = scheduler.run("new:read", async () => {
            sent.push("first");
            await new Promise<void>((r) => (finishFirst = r));
            return "first done";
        });
        await new Promise((r) => setImmediate(r));
        gate = new Promise<void>((r) => (resume = r));
        const second = scheduler.run("new:read", async () => {
            sent.push("second");
            return "second done";
        });
        finishFirst();
        await expect(first).resolves.toBe("first done");
        await new Promise((r) => setImmediate(r));
        expect(sent).toEqual(["first"]);
        gate = null;
        resume();
        await expect(second).resolves.toBe("second done");
        expect(sent).toEqual(["first", "second"]);
    });
});
