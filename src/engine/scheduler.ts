/**
 * The one place that paces requests. Steps never sleep on their own: they hand each request to a bucket (one per
 * account and kind of endpoint), and the bucket waits as the servers ask — `Retry-After` / `retry_after_ms` on 429,
 * and the receiving server's refusal of invites, which the inviting Synapse reports as a 502 after a few seconds
 * rather than a 429. What was learned paces the following requests and feeds the ETA.
 */
import { isMatrixRequestError, type MatrixRequestError } from "../sessions/matrixHttp.ts";

export type BucketName =
    | "old:read"
    | "old:invite"
    | "old:state"
    | "old:message"
    | "old:accountData"
    | "old:leave"
    | "old:media"
    | "new:read"
    | "new:join"
    | "new:accountData"
    | "new:profile"
    | "new:media"
    | "new:keys";

interface BucketPolicy {
    concurrency: number;
}

const POLICIES: Record<BucketName, BucketPolicy> = {
    "old:read": { concurrency: 4 },
    "old:invite": { concurrency: 1 },
    "old:state": { concurrency: 1 },
    "old:message": { concurrency: 1 },
    "old:accountData": { concurrency: 1 },
    "old:leave": { concurrency: 1 },
    "old:media": { concurrency: 2 },
    "new:read": { concurrency: 4 },
    "new:join": { concurrency: 1 },
    "new:accountData": { concurrency: 2 },
    "new:profile": { concurrency: 1 },
    "new:media": { concurrency: 2 },
    "new:keys": { concurrency: 2 },
};

export interface SchedulerClock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

/** setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: SchedulerClock = {
    now: () => Date.now(),
    sleep: (ms) =>
        new Promise((resolve) =>
            setTimeout(resolve, Math.min(MAX_TIMER_MS, Math.max(0, Number.isFinite(ms) ? ms : MAX_TIMER_MS))),
        ),
};

/** Below this spacing, probing stops pacing a bucket at all (its concurrency applies again). */
const MIN_PACING_MS = 250;

/** The longest single pause, whatever a server asks: past it the request is tried again (and counted). */
export const MAX_PAUSE_MS = 15 * 60_000;

export interface WaitNotice {
    bucket: BucketName;
    ms: number;
    reason: "rate-limited" | "invite-refused" | "server-error" | "unreachable" | "not-answering";
}

export interface SchedulerOptions {
    clock?: SchedulerClock;
    onWait?(notice: WaitNotice): void;
    /** Give up on one invite after this many refusals in a row (default 24: about two hours at Synapse's default). */
    maxInviteRefusals?: number;
    /** Retries of one request after server errors or lost connections (default 5). */
    maxRetries?: number;
    /** Give up on one request after the server asked to slow down this many times in a row (default 30). */
    maxRateLimited?: number;
    /**
     * Pausing: awaited before each request is sent, so a paused run sends nothing new while requests already under way
     * finish. Resolves at once while not paused.
     */
    whilePaused?(): Promise<void>;
}

/** A server kept answering 429 to the same request: the step stops with this reason instead of waiting forever. */
export class ServerKeepsRefusingError extends Error {
    public constructor(
        public readonly bucket: BucketName,
        public readonly refusals: number,
        public readonly waitedMs: number,
    ) {
        super(
            `The server kept asking to slow down (${refusals} times in a row over ${Math.round(waitedMs / 60_000)} min); try again later`,
        );
        this.name = "ServerKeepsRefusingError";
    }
}

export class InviteRefusedError extends Error {
    public constructor(public readonly refusals: number) {
        super(
            `The new account's server refused the invite ${refusals} times in a row (its limit on invites received per user)`,
        );
        this.name = "InviteRefusedError";
    }
}

class Bucket {
    public active = 0;
    public pausedUntil = 0;
    /** Learned minimum spacing between requests (from 429s and invite refusals). */
    public minIntervalMs = 0;
    public lastStart = 0;
    public done = 0;
    public expected = 0;
    public totalDurationMs = 0;
    public limitedWaitMs = 0;
    public inviteRefusals = 0;
    /** When the last request succeeded, and whether the server held us back since (429 or invite refusal). */
    public lastSuccessAt: number | undefined;
    public limitedSinceSuccess = false;
    /** The refill interval learned from two successes the server spaced out (0 until then). */
    public learnedIntervalMs = 0;
    /** When the last refused attempt started (since the last success). */
    public lastRefusedStart: number | undefined;
    public everRefused = false;
    /** What to expect before anything is learned (Synapse's defaults); dropped once the server shows its own pace. */
    public prior?: { free: number; intervalMs: number };
    // For the ETA, what the server revealed of its pace (see `pace`):
    /** When the first request that went through started. */
    public firstSuccessAt: number | undefined;
    /** When the first attempt the server held back (429 or invite refusal) started. */
    public heldBackAt: number | undefined;
    /** The refill interval the first 429 revealed, before any paced success could be timed. */
    public revealedIntervalMs = 0;
    /** Successes since the first hold-back, and when the latest of them started. */
    public pacedSuccesses = 0;
    public lastPacedStart = 0;
    public readonly waiters: Array<() => void> = [];

    public constructor(
        public readonly name: BucketName,
        public readonly policy: BucketPolicy,
    ) {}

    public get averageDurationMs(): number {
        return this.done ? this.totalDurationMs / this.done : 0;
    }

    /**
     * Time per request once the server holds the bucket back: the average pace achieved since it first did — the
     * server's refill rate as this engine meets it, waits and retries included (the spacing of the latest successes
     * alone runs fast while a bucket spends what refilled during a long wait). Until two successes are known, the
     * interval the first 429 revealed, or the wait the engine imposes.
     */
    public pace(): number {
        if (this.heldBackAt !== undefined && this.pacedSuccesses >= 2)
            return (this.lastPacedStart - this.heldBackAt) / this.pacedSuccesses;
        return Math.max(this.revealedIntervalMs, this.minIntervalMs);
    }
}

/**
 * Synapse's inviting server answers 502 ("Can't connect to server", after ~6 s) when the receiving server refuses an
 * invite because of its per-user invite limit; 504 is the same refusal when it times out.
 */
function isInviteRefusal(e: MatrixRequestError): boolean {
    return e.httpStatus === 502 || e.httpStatus === 504;
}

export class Scheduler {
    private readonly buckets = new Map<BucketName, Bucket>();
    private readonly clock: SchedulerClock;

    public constructor(private readonly options: SchedulerOptions = {}) {
        this.clock = options.clock ?? realClock;
    }

    private bucket(name: BucketName): Bucket {
        let b = this.buckets.get(name);
        if (!b) {
            b = new Bucket(name, POLICIES[name]);
            this.buckets.set(name, b);
        }
        return b;
    }

    /**
     * Tells the scheduler how many requests a bucket will still see, for the ETA; `prior` is the pace to assume until
     * the server shows its own (e.g. Synapse's default: 5 invites received, then one per 333 s). A negative count
     * takes back requests that will not be made after all (the work was found done, or the room stopped early).
     */
    public expect(name: BucketName, count: number, prior?: { free: number; intervalMs: number }): void {
        const b = this.bucket(name);
        b.expected += count;
        if (prior && b.minIntervalMs === 0) b.prior = prior;
    }

    private readonly waitListeners = new Set<(notice: WaitNotice) => void>();

    /** Also tell `listener` about every wait (for callers that were handed an existing scheduler). */
    public onWait(listener: (notice: WaitNotice) => void): () => void {
        this.waitListeners.add(listener);
        return () => this.waitListeners.delete(listener);
    }

    private async acquire(b: Bucket): Promise<void> {
        for (;;) {
            if (b.active < b.policy.concurrency) {
                const now = this.clock.now();
                const readyAt = Math.max(b.pausedUntil, b.lastStart + b.minIntervalMs);
                if (now >= readyAt) {
                    b.active++;
                    b.lastStart = now;
                    return;
                }
                // Another waiter may be woken meanwhile; re-check after the pause.
                await this.clock.sleep(readyAt - now);
                continue;
            }
            await new Promise<void>((resolve) => b.waiters.push(resolve));
        }
    }

    private release(b: Bucket): void {
        b.active--;
        b.waiters.shift()?.();
    }

    private pause(b: Bucket, ms: number, reason: WaitNotice["reason"]): void {
        b.pausedUntil = Math.max(b.pausedUntil, this.clock.now() + ms);
        b.limitedWaitMs += ms;
        const notice = { bucket: b.name, ms, reason };
        this.options.onWait?.(notice);
        for (const listener of this.waitListeners) listener(notice);
    }

    /** Runs one request in a bucket, waiting and retrying as the servers ask. */
    public async run<T>(name: BucketName, request: () => Promise<T>): Promise<T> {
        const b = this.bucket(name);
        // Counted apart: a server asking to slow down (429) is waited out as often as it asks, errors are not.
        let rateLimited = 0;
        let rateLimitedWaitMs = 0;
        let retries = 0;
        await this.options.whilePaused?.();
        for (;;) {
            await this.acquire(b);
            const started = this.clock.now();
            try {
                const result = await request();
                const now = this.clock.now();
                b.totalDurationMs += now - started;
                b.done++;
                b.inviteRefusals = 0;
                // Learn the server's refill interval from when it let requests through, not from the first
                // Retry-After (which only covers a partly refilled bucket). After a 429 the retry starts when a token
                // is free, so the spacing of the two successes is the interval; after refusals it lies between the
                // last refused attempt and this one, so take the middle. With no hold-back, probe a little faster,
                // down to no pacing at all: a burst of 429s once (a busy moment) must not slow a bucket for good.
                if (b.limitedSinceSuccess && b.lastSuccessAt !== undefined) {
                    const upper = started - b.lastSuccessAt;
                    const lower = b.lastRefusedStart !== undefined ? b.lastRefusedStart - b.lastSuccessAt : upper;
                    b.learnedIntervalMs = Math.min((lower + upper) / 2, 10 * 60_000);
                    b.minIntervalMs = b.learnedIntervalMs;
                } else if (!b.limitedSinceSuccess && b.minIntervalMs > 0) {
                    b.minIntervalMs = b.minIntervalMs * 0.9 < MIN_PACING_MS ? 0 : b.minIntervalMs * 0.9;
                }
                b.limitedSinceSuccess = false;
                b.lastRefusedStart = undefined;
                b.lastSuccessAt = started;
                b.firstSuccessAt ??= started;
                if (b.heldBackAt !== undefined) {
                    b.pacedSuccesses++;
                    b.lastPacedStart = started;
                }
                // Past the free allowance with nothing held back: this server is kinder than the assumed default.
                if (b.prior && b.minIntervalMs === 0 && b.done > b.prior.free) b.prior = undefined;
                return result;
            } catch (e) {
                if (!isMatrixRequestError(e)) throw e;
                if (e.isRateLimited) {
                    rateLimited++;
                    if (rateLimited > (this.options.maxRateLimited ?? 30))
                        throw new ServerKeepsRefusingError(name, rateLimited - 1, rateLimitedWaitMs);
                    // Never longer than MAX_PAUSE_MS at once, however long the server asks (a huge Retry-After would
                    // otherwise overflow the timer and fire at once, or stall the run for days).
                    const wait = Math.min(
                        MAX_PAUSE_MS,
                        e.retryAfterMs ?? Math.min(60_000, 1000 * 2 ** (rateLimited - 1)),
                    );
                    rateLimitedWaitMs += wait;
                    if (b.heldBackAt === undefined) {
                        b.revealedIntervalMs = this.revealedInterval(b, wait);
                        b.heldBackAt = started;
                    }
                    // Pace what follows at least at the rate the server just told us, until a success refines it.
                    b.minIntervalMs = Math.max(b.minIntervalMs, Math.min(wait, 10 * 60_000));
                    b.limitedSinceSuccess = true;
                    b.prior = undefined;
                    // The server said when the next request may go: at the end of the pause, not one more interval
                    // after this refused attempt (the spacing counts from requests that went through).
                    b.lastStart = b.lastSuccessAt ?? 0;
                    this.pause(b, wait, "rate-limited");
                    continue;
                }
                if (name === "old:invite" && isInviteRefusal(e)) {
                    b.inviteRefusals++;
                    b.everRefused = true;
                    b.heldBackAt ??= started;
                    b.lastRefusedStart = started;
                    if (b.inviteRefusals >= (this.options.maxInviteRefusals ?? 24)) {
                        const refusals = b.inviteRefusals;
                        // The next room starts counting afresh; the learned pace (minIntervalMs) stays.
                        b.inviteRefusals = 0;
                        throw new InviteRefusedError(refusals);
                    }
                    // Synapse refills one invite every ~333 s by default; start lower in case the server is kinder, and
                    // from the pace already learned when there is one.
                    const base = b.learnedIntervalMs > 0 ? b.learnedIntervalMs / 2 : 15_000;
                    const wait = Math.min(340_000, base * 2 ** (b.inviteRefusals - 1));
                    b.minIntervalMs = Math.max(b.minIntervalMs, wait);
                    b.limitedSinceSuccess = true;
                    b.prior = undefined;
                    this.pause(b, wait, "invite-refused");
                    continue;
                }
                const transient = e.httpStatus === 0 || e.httpStatus >= 500;
                if (transient && retries < (this.options.maxRetries ?? 5)) {
                    this.pause(
                        b,
                        1000 * 2 ** retries,
                        e.notAnswering ? "not-answering" : e.httpStatus === 0 ? "unreachable" : "server-error",
                    );
                    retries++;
                    continue;
                }
                throw e;
            } finally {
                this.release(b);
            }
        }
    }

    /**
     * The refill interval a first 429 reveals. A token bucket (Synapse's) that was full at our first request lets the
     * k-th request past its burst through at first + k × interval, and Retry-After says when that is; the burst is the
     * assumed default's (or what went through, where that was less). With no default to go by, Retry-After alone (at
     * most one interval) is the estimate.
     */
    private revealedInterval(b: Bucket, retryAfterMs: number): number {
        if (b.firstSuccessAt === undefined || !b.prior) return retryAfterMs;
        const beyondBurst = Math.max(1, b.done - b.prior.free + 1);
        return (this.clock.now() + retryAfterMs - b.firstSuccessAt) / beyondBurst;
    }

    /** Waits on the scheduler's clock (a fake one in tests): for what a server settles on its own time. */
    public wait(ms: number): Promise<void> {
        return this.clock.sleep(ms);
    }

    /** Re-checks something the servers settle asynchronously (federation), until `done` or the timeout. */
    public async poll<T>(
        check: () => Promise<T>,
        done: (value: T) => boolean,
        timeoutMs: number,
        intervalMs = 300,
    ): Promise<T> {
        const deadline = this.clock.now() + timeoutMs;
        for (;;) {
            const value = await check();
            if (done(value) || this.clock.now() >= deadline) return value;
            await this.clock.sleep(intervalMs);
        }
    }

    /**
     * Time left, from what each bucket still has to do and the pace the server holds it to (as achieved, see
     * `Bucket.pace`), or what its requests take where nothing holds it back; buckets run side by side, so the slowest
     * one decides. Until a server shows its pace, its assumed default (`expect`'s prior) stands.
     */
    public eta(): { ms: number; dominatedBy?: BucketName; inviteLimited: boolean } {
        let ms = 0;
        let dominatedBy: BucketName | undefined;
        for (const b of this.buckets.values()) {
            const remaining = Math.max(0, b.expected - b.done);
            if (!remaining) continue;
            const perRequest = Math.max(
                b.heldBackAt !== undefined ? b.pace() : 0,
                b.averageDurationMs / b.policy.concurrency,
                50,
            );
            // The wait before the next request, then one interval for each of the others.
            const nextAt = Math.max(b.pausedUntil, b.lastStart + b.minIntervalMs);
            let bucketMs =
                Math.max(0, nextAt - this.clock.now()) +
                (remaining - 1) * perRequest +
                Math.max(b.averageDurationMs, 50);
            if (b.prior)
                bucketMs = Math.max(
                    bucketMs,
                    Math.max(0, remaining - Math.max(0, b.prior.free - b.done)) * b.prior.intervalMs,
                );
            if (bucketMs > ms) {
                ms = bucketMs;
                dominatedBy = b.name;
            }
        }
        const invite = this.buckets.get("old:invite");
        // Invite-limited: the invites decide the time left, and they are held back by the new server's limit (refused
        // already, or assumed from Synapse's default until shown otherwise).
        const inviteHeldBack = invite !== undefined && (invite.everRefused || invite.prior !== undefined);
        return { ms, dominatedBy, inviteLimited: dominatedBy === "old:invite" && inviteHeldBack };
    }

    public stats(): Record<string, { done: number; expected: number; limitedWaitMs: number; minIntervalMs: number }> {
        return Object.fromEntries(
            [...this.buckets.values()].map((b) => [
                b.name,
                { done: b.done, expected: b.expected, limitedWaitMs: b.limitedWaitMs, minIntervalMs: b.minIntervalMs },
            ]),
        );
    }
}
