/**
 * A small authenticated client for the Matrix client-server API. The engine talks to both accounts through it, so
 * every request can be paced by the one scheduler and every failure arrives in one shape (`MatrixRequestError`,
 * tested by `errcode`/`httpStatus`, never `instanceof` across bundles).
 */

import { checkedRedirects } from "./serverUrl.ts";

export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface RequestOptions {
    query?: Record<string, string | number | boolean | string[] | undefined>;
    body?: unknown;
    /** Defaults to /_matrix/client/v3. */
    prefix?: string;
    /** Return the raw Response instead of parsing JSON (media). */
    raw?: boolean;
    headers?: Record<string, string>;
    signal?: AbortSignal;
    /** Give up when the whole answer has not arrived after this long (default 60 s; a full /sync takes longer). */
    timeoutMs?: number;
    /** The largest successful answer read (default RESPONSE_BODY_LIMIT); a bigger one fails, unread. Not for `raw`. */
    maxBytes?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Error bodies are read up to this size: enough for any Matrix error, not a way to flood memory. */
export const ERROR_BODY_LIMIT = 64 * 1024;
/**
 * Successful JSON answers are read up to this size. Matrix API answers are far smaller (the one big answer, the CLI's
 * full-state /sync, asks for more); a server sending more is not answering what was asked, and must not fill memory.
 */
export const RESPONSE_BODY_LIMIT = 32 * 1024 * 1024;

const mib = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

export class MatrixRequestError extends Error {
    public constructor(
        public readonly method: Method,
        public readonly path: string,
        /** 0 when the server could not be reached at all. */
        public readonly httpStatus: number,
        public readonly errcode: string | undefined,
        public readonly serverMessage: string | undefined,
        /** From `Retry-After` (preferred) or the body's `retry_after_ms`. */
        public readonly retryAfterMs: number | undefined,
        public readonly body: Record<string, unknown> | undefined,
        /** The server took the request but did not answer in time (httpStatus 0). */
        public readonly notAnswering = false,
    ) {
        super(
            notAnswering
                ? `${method} ${path}: the server is not answering (${serverMessage})`
                : httpStatus === 0
                  ? `${method} ${path}: could not reach the server (${serverMessage ?? "network error"})`
                  : `${method} ${path}: ${httpStatus} ${errcode ?? ""} ${serverMessage ?? ""}`.trim(),
        );
        this.name = "MatrixRequestError";
    }

    public get isRateLimited(): boolean {
        return this.httpStatus === 429 || this.errcode === "M_LIMIT_EXCEEDED";
    }
}

/** A successful answer larger than the request's cap: it was not read beyond the cap (httpStatus is the server's). */
export class ResponseTooLargeError extends MatrixRequestError {
    public constructor(
        method: Method,
        path: string,
        httpStatus: number,
        public readonly limitBytes: number,
    ) {
        super(method, path, httpStatus, undefined, undefined, undefined, undefined);
        this.message = `${method} ${path}: the server's answer is larger than ${mib(limitBytes)}, far more than this request needs; it was not read`;
    }
}

/** The body was larger than the cap (thrown by `readBodyCapped`; MatrixHttp turns it into ResponseTooLargeError). */
export class BodyTooLargeError extends Error {
    public constructor(public readonly limitBytes: number) {
        super(`the answer is larger than ${mib(limitBytes)}; it was not read`);
        this.name = "BodyTooLargeError";
    }
}

/**
 * Reads a whole body of at most `limit` bytes, or fails with BodyTooLargeError as soon as it is known to be bigger
 * (a declared Content-Length, or the bytes read so far): the rest is never downloaded or buffered.
 */
export async function readBodyCapped(response: Response, limit: number): Promise<Uint8Array> {
    const declared = Number(response.headers.get("Content-Length") ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
        await response.body?.cancel().catch(() => undefined);
        throw new BodyTooLargeError(limit);
    }
    if (!response.body) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            size += value.byteLength;
            if (size > limit) throw new BodyTooLargeError(limit);
            chunks.push(value);
        }
    } finally {
        await reader.cancel().catch(() => undefined);
    }
    const all = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
    }
    return all;
}

export function isMatrixRequestError(e: unknown): e is MatrixRequestError {
    return typeof e === "object" && e !== null && (e as { name?: string }).name === "MatrixRequestError";
}

/**
 * `Retry-After` is preferred (the spec's choice); but it counts whole seconds, and Synapse rounds `retry_after_ms` up
 * into it, so where the body's milliseconds are that same time (within the rounding) they are the precise answer.
 */
function parseRetryAfter(headers: Headers, body: Record<string, unknown> | undefined): number | undefined {
    const bodyMs =
        typeof body?.retry_after_ms === "number" && body.retry_after_ms >= 0 ? body.retry_after_ms : undefined;
    const header = headers.get("Retry-After");
    let headerMs: number | undefined;
    if (header) {
        const seconds = Number(header);
        if (Number.isFinite(seconds) && seconds >= 0) headerMs = seconds * 1000;
        else if (!Number.isNaN(Date.parse(header))) headerMs = Math.max(0, Date.parse(header) - Date.now());
    }
    if (headerMs === undefined) return bodyMs;
    return bodyMs !== undefined && bodyMs <= headerMs && bodyMs > headerMs - 1000 ? bodyMs : headerMs;
}

export function encodeQuery(query: RequestOptions["query"]): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const v of value) params.append(key, v);
        else params.append(key, String(value));
    }
    const text = params.toString();
    return text ? `?${text}` : "";
}

export class MatrixHttp {
    private readonly fetchFn: typeof fetch;

    /**
     * @param baseUrl the homeserver's client API base URL
     * @param accessToken a token, or a getter so a host that refreshes its token (Element with OAuth) is followed
     */
    public constructor(
        public readonly baseUrl: string,
        private readonly accessToken?: string | (() => string | null | undefined),
        fetchFn: typeof fetch = (...args) => globalThis.fetch(...args),
        /** For requests that give none of their own. */
        private readonly defaultTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
        /**
         * With a token getter: asks the host to renew its token (Element's client refreshes on its own requests) when
         * the server called the token we sent unknown and the getter still gives that same one.
         */
        private readonly renewToken?: () => Promise<void>,
    ) {
        this.baseUrl = baseUrl.replace(/\/+$/, "");
        // A redirect is followed only to https (or loopback http), never from https to http: a token must not go there.
        this.fetchFn = checkedRedirects(fetchFn);
    }

    private token(): string | undefined {
        const t = typeof this.accessToken === "function" ? this.accessToken() : this.accessToken;
        return t ?? undefined;
    }

    public async request<T = Record<string, unknown>>(
        method: Method,
        path: string,
        opts: RequestOptions = {},
    ): Promise<T> {
        const sent = this.token();
        try {
            return await this.send<T>(method, path, opts, sent);
        } catch (e) {
            // The host (Element) renews its token while a migration runs: a 401 for the token we sent is repeated
            // once with the host's current one. A fixed token (ours, or the user's) is not retried.
            if (!(e instanceof MatrixRequestError) || e.httpStatus !== 401 || e.errcode !== "M_UNKNOWN_TOKEN") throw e;
            if (typeof this.accessToken !== "function" || !sent) throw e;
            if (this.token() === sent) await this.renewToken?.().catch(() => undefined);
            const current = this.token();
            if (!current || current === sent) throw e;
            return this.send<T>(method, path, opts, current);
        }
    }

    private async send<T>(method: Method, path: string, opts: RequestOptions, token: string | undefined): Promise<T> {
        const url = `${this.baseUrl}${opts.prefix ?? "/_matrix/client/v3"}${path}${encodeQuery(opts.query)}`;
        const headers: Record<string, string> = { ...opts.headers };
        if (token) headers.Authorization = `Bearer ${token}`;
        let body: BodyInit | undefined;
        if (opts.body instanceof Uint8Array || (typeof Blob !== "undefined" && opts.body instanceof Blob)) {
            body = opts.body as BodyInit;
        } else if (opts.body !== undefined) {
            body = JSON.stringify(opts.body);
            headers["Content-Type"] ??= "application/json";
        }
        const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
        const timeout = AbortSignal.timeout(timeoutMs);
        const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
        const failed = (e: unknown) =>
            timeout.aborted
                ? new MatrixRequestError(
                      method,
                      path,
                      0,
                      undefined,
                      `no answer within ${Math.round(timeoutMs / 1000)} s`,
                      undefined,
                      undefined,
                      true,
                  )
                : new MatrixRequestError(method, path, 0, undefined, (e as Error).message, undefined, undefined);
        let response: Response;
        let text: string;
        try {
            response = await this.fetchFn(url, { method, headers, body, signal });
            if (response.ok && opts.raw) return response as T;
            text = response.ok
                ? new TextDecoder().decode(await readBodyCapped(response, opts.maxBytes ?? RESPONSE_BODY_LIMIT))
                : await readCapped(response, ERROR_BODY_LIMIT);
        } catch (e) {
            if (e instanceof BodyTooLargeError)
                throw new ResponseTooLargeError(method, path, response!.status, e.limitBytes);
            throw failed(e);
        }
        let json: Record<string, unknown> | undefined;
        try {
            json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
            json = undefined;
        }
        if (!response.ok) {
            throw new MatrixRequestError(
                method,
                path,
                response.status,
                typeof json?.errcode === "string" ? json.errcode : undefined,
                typeof json?.error === "string" ? json.error : text.slice(0, 200) || response.statusText,
                parseRetryAfter(response.headers, json),
                json,
            );
        }
        if (json === undefined) {
            throw new MatrixRequestError(
                method,
                path,
                response.status,
                undefined,
                "the server answered with something that is not JSON",
                undefined,
                undefined,
            );
        }
        return json as T;
    }
}

/** Reads at most `limit` bytes of a body as text, then stops reading (the rest is never buffered). */
export async function readCapped(response: Response, limit: number): Promise<string> {
    if (!response.body) return "";
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
        while (size < limit) {
            const { done, value } = await reader.read();
            if (done) break;
            chunks.push(value);
            size += value.byteLength;
        }
    } finally {
        await reader.cancel().catch(() => undefined);
    }
    const all = new Uint8Array(Math.min(size, limit));
    let offset = 0;
    for (const chunk of chunks) {
        const part = chunk.subarray(0, all.byteLength - offset);
        all.set(part, offset);
        offset += part.byteLength;
        if (offset >= all.byteLength) break;
    }
    return new TextDecoder().decode(all);
}

/** A read whose "not found" means "none": resolves to `fallback` on 404, rethrows anything else. */
export async function orIfNotFound<T, F>(request: Promise<T>, fallback: F): Promise<T | F> {
    try {
        return await request;
    } catch (e) {
        if (isMatrixRequestError(e) && e.httpStatus === 404) return fallback;
        throw e;
    }
}

/** Percent-encodes one path segment (room ids, user ids, event types). */
export const seg = (s: string): string => encodeURIComponent(s);
