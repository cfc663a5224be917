// GET with the manners a shared FHIR server deserves and the suspicion a
// node owes it: bounded concurrency, a timeout per request, retries with
// backoff on 429/502/503/504 and network errors (honouring Retry-After), no
// redirects followed, a cap on the body size, and every failure turned into a
// ProblemError that carries no upstream text.
import { sleep } from './abort.ts';
import type { AuthProvider } from './auth.ts';
import { nodeProblem } from '../errors.ts';
import { createLimiter } from './limiter.ts';

export interface FhirHttpOptions {
  readonly fetch: typeof fetch;
  readonly auth: AuthProvider;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Per request, until the whole body is read. */
  readonly timeoutMs: number;
  /** Attempts per request, the first included (default 3). */
  readonly maxAttempts?: number;
  /** First backoff delay; doubles per attempt, plus jitter (default 250 ms). */
  readonly backoffMs?: number;
  /** A Retry-After longer than this ends the retries at once (default 10 s). */
  readonly maxRetryAfterMs?: number;
  /** Largest response body read (default 64 MiB). */
  readonly maxBodyBytes?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now?: () => number;
}

/** One kind of request: its method and headers, and how a 2xx answer is read. */
export interface RequestSpec<T> {
  readonly method?: 'GET' | 'DELETE';
  readonly headers: Readonly<Record<string, string>>;
  /** Overrides the per-request timeout (for long downloads). */
  readonly timeoutMs?: number;
  /** Reads a 2xx answer; a thrown ProblemError fails the request without retry. */
  readonly read: (response: Response) => Promise<T>;
}

export interface FhirHttp {
  /** GETs a FHIR JSON document. */
  getJson(url: string, signal?: AbortSignal): Promise<unknown>;
  /** Any request, with the same credentials, retries, timeout and failure mapping. */
  request<T>(url: string, spec: RequestSpec<T>, signal?: AbortSignal): Promise<T>;
  /** Requests in flight now. */
  readonly active: number;
}

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

type Attempt<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'retry'; readonly retryAfterMs?: number }
  | { readonly kind: 'renew' }
  | { readonly kind: 'fail'; readonly error: Error };

function unavailable(detail: string, retryAfter?: number): Error {
  return nodeProblem('ERR_SOURCE_UNAVAILABLE', {
    detail,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}

function invalid(detail: string): Error {
  return nodeProblem('ERR_SOURCE_INVALID', { detail });
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The body of a response parsed as JSON, read up to `maxBytes`; anything
 * larger or unparsable is ERR_SOURCE_INVALID.
 */
export async function readLimitedJson(response: Response, maxBytes: number): Promise<unknown> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw invalid('the FHIR server’s answer is larger than the node reads');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body !== null) {
    // Leaving the loop early cancels the stream.
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw invalid('the FHIR server’s answer is larger than the node reads');
      chunks.push(chunk);
    }
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw invalid('the FHIR server answered something that is not JSON');
  }
}

function cancelled(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : unavailable('the evaluation was cancelled');
}

/**
 * Waits `ms`, or rejects with the signal's reason (a ProblemError when the
 * reason is no Error) as soon as it aborts. Parallel requests waiting under
 * one signal share one listener on it.
 */
export function waitFor(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, signal, cancelled);
}

/**
 * @example const http = createFhirHttp({ fetch, auth, concurrency: 4, timeoutMs: 30_000 });
 *   const bundle = await http.getJson(url);
 */
export function createFhirHttp(options: FhirHttpOptions): FhirHttp {
  const limiter = createLimiter(options.concurrency);
  const { timeoutMs } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const backoffMs = options.backoffMs ?? 250;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const pause = options.sleep ?? waitFor;
  const now = options.now ?? Date.now;

  async function attempt<T>(
    url: string,
    spec: RequestSpec<T>,
    signal: AbortSignal | undefined,
  ): Promise<Attempt<T>> {
    const timeout = AbortSignal.timeout(spec.timeoutMs ?? timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const failure = (): Attempt<T> => {
      if (signal?.aborted === true) return { kind: 'fail', error: cancelled(signal) };
      if (timeout.aborted) {
        return { kind: 'fail', error: unavailable('the FHIR server did not answer in time') };
      }
      return { kind: 'retry' };
    };
    let authorization: string | undefined;
    try {
      authorization = await options.auth.authorization(combined);
    } catch (err) {
      return { kind: 'fail', error: err instanceof Error ? err : unavailable('no credentials') };
    }
    const headers: Record<string, string> = { ...spec.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    let response: Response;
    try {
      response = await options.fetch(url, {
        method: spec.method ?? 'GET',
        headers,
        redirect: 'manual',
        signal: combined,
      });
    } catch {
      return failure();
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const status = response.status;
      // Redirects are not followed: credentials stay with the configured server.
      if (status >= 300 && status < 400) {
        return {
          kind: 'fail',
          error: invalid(`the FHIR server redirected a request (HTTP ${status})`),
        };
      }
      if (RETRY_STATUSES.has(status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
        return retryAfterMs === undefined ? { kind: 'retry' } : { kind: 'retry', retryAfterMs };
      }
      if (status === 401) return { kind: 'renew' };
      if (status === 403) {
        return {
          kind: 'fail',
          error: unavailable('the FHIR server refused the node’s credentials'),
        };
      }
      if (status >= 500) {
        return { kind: 'fail', error: unavailable(`the FHIR server failed (HTTP ${status})`) };
      }
      return {
        kind: 'fail',
        error: invalid(`the FHIR server rejected a request (HTTP ${status})`),
      };
    }
    try {
      return { kind: 'ok', value: await spec.read(response) };
    } catch (err) {
      await response.body?.cancel().catch(() => undefined);
      if (combined.aborted) return failure();
      return { kind: 'fail', error: err instanceof Error ? err : invalid('unreadable answer') };
    }
  }

  async function request<T>(url: string, spec: RequestSpec<T>, signal?: AbortSignal): Promise<T> {
    let renewed = false;
    for (let n = 1; ; n++) {
      if (signal?.aborted === true) throw cancelled(signal);
      const result = await limiter.run(() => attempt(url, spec, signal));
      switch (result.kind) {
        case 'ok':
          return result.value;
        case 'fail':
          throw result.error;
        case 'renew':
          if (renewed || !options.auth.renew()) {
            throw unavailable('the FHIR server refused the node’s credentials');
          }
          renewed = true;
          n -= 1;
          continue;
        case 'retry': {
          const retryAfterS =
            result.retryAfterMs === undefined ? undefined : Math.ceil(result.retryAfterMs / 1000);
          if (n >= maxAttempts) {
            throw unavailable('the FHIR server is busy or unreachable', retryAfterS);
          }
          const delay =
            result.retryAfterMs ?? backoffMs * 2 ** (n - 1) + Math.floor(Math.random() * backoffMs);
          if (delay > maxRetryAfterMs) {
            throw unavailable('the FHIR server asked the node to wait too long', retryAfterS);
          }
          await pause(delay, signal);
        }
      }
    }
  }

  const fhirJson: RequestSpec<unknown> = {
    headers: { accept: 'application/fhir+json', prefer: 'handling=strict' },
    read: async (response) => {
      if (!/json/i.test(response.headers.get('content-type') ?? '')) {
        throw invalid('the FHIR server answered something that is not JSON');
      }
      return readLimitedJson(response, maxBodyBytes);
    },
  };

  return {
    getJson: (url, signal) => request(url, fhirJson, signal),
    request,
    get active() {
      return limiter.active;
    },
  };
}
