// A researcher's view of the gateway's HTTP API for whole-system tests: plain
// fetch, so what is tested is what goes over the wire.
import type { MergedResult, NodeOutcome } from '@tessera/schemas';
import { eventually } from './processes.ts';

/** The job as the gateway shows it (GET /v1/queries/{id}). */
export interface JobView {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  readonly project: string;
  readonly queryHash: string;
  readonly nodes: readonly string[];
  readonly result?: MergedResult;
  readonly error?: string;
  readonly links: { readonly self: string; readonly events: string };
}

export interface Answer<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface Problem {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail?: string;
  readonly pointer?: string;
  readonly requestId?: string;
}

async function answer<T>(res: Response): Promise<Answer<T>> {
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const body = (/json/.test(type) && text !== '' ? JSON.parse(text) : text) as T;
  return { status: res.status, headers: res.headers, body, text };
}

export interface Caller {
  readonly gatewayUrl: string;
  readonly token: string | undefined;
}

function authHeaders(caller: Caller, extra: Record<string, string> = {}): Record<string, string> {
  return caller.token === undefined ? extra : { authorization: `Bearer ${caller.token}`, ...extra };
}

/** GET a gateway path (or absolute URL) as the caller. */
export async function get<T = unknown>(
  caller: Caller,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const url = path.startsWith('http') ? path : `${caller.gatewayUrl}${path}`;
  return answer<T>(await fetch(url, { headers: authHeaders(caller, headers) }));
}

/** POST /v1/queries; `wait` seconds become `Prefer: wait=N`. */
export async function submit<T = JobView>(
  caller: Caller,
  query: unknown,
  options: { wait?: number; project?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers = authHeaders(caller, {
    'content-type': 'application/json',
    ...(options.wait === undefined ? {} : { prefer: `wait=${options.wait}` }),
    ...(options.project === undefined ? {} : { 'x-tessera-project': options.project }),
    ...options.headers,
  });
  return answer<T>(
    await fetch(`${caller.gatewayUrl}/v1/queries`, {
      method: 'POST',
      headers,
      body: typeof query === 'string' ? query : JSON.stringify(query),
    }),
  );
}

export async function cancel(caller: Caller, id: string): Promise<Answer<JobView>> {
  return answer<JobView>(
    await fetch(`${caller.gatewayUrl}/v1/queries/${id}`, {
      method: 'DELETE',
      headers: authHeaders(caller),
    }),
  );
}

/** Polls the job until `done(job)`; returns that record. */
export function waitForJob(
  caller: Caller,
  id: string,
  done: (job: JobView) => boolean = (job) =>
    job.status === 'done' || job.status === 'failed' || job.status === 'cancelled',
  timeoutMs = 60_000,
): Promise<JobView> {
  return eventually(
    `job ${id}`,
    async () => {
      const res = await get<JobView>(caller, `/v1/queries/${id}`);
      if (res.status !== 200) throw new Error(`GET job answered ${res.status}`);
      return done(res.body) ? res.body : undefined;
    },
    timeoutMs,
  );
}

export type JobStreamEvent =
  | { readonly event: 'node'; readonly data: NodeOutcome }
  | { readonly event: 'result'; readonly data: JobView };

/** Reads GET /v1/queries/{id}/events until the `result` event. */
export async function readEvents(
  caller: Caller,
  id: string,
  timeoutMs = 60_000,
): Promise<{ status: number; contentType: string | null; events: JobStreamEvent[] }> {
  const res = await fetch(`${caller.gatewayUrl}/v1/queries/${id}/events`, {
    headers: authHeaders(caller, { accept: 'text/event-stream' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const events: JobStreamEvent[] = [];
  if (res.body === null) return { status: res.status, contentType: null, events };
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event === undefined || data === undefined) continue;
      if (event === 'node') events.push({ event, data: JSON.parse(data) as NodeOutcome });
      if (event === 'result') {
        events.push({ event, data: JSON.parse(data) as JobView });
        await res.body.cancel().catch(() => undefined);
        return { status: res.status, contentType: res.headers.get('content-type'), events };
      }
    }
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

/** Metric families in a Prometheus text exposition: name → type. */
export function metricTypes(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    types.set(match[1]!, match[2]!);
  return types;
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function metricSum(
  exposition: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (match?.[1] !== name) continue;
    const text = match[2] ?? '';
    const held = Object.entries(labels).every(
      ([k, v]) => text.includes(`{${k}="${v}"`) || text.includes(`,${k}="${v}"`),
    );
    if (held) sum += Number(match[3]);
  }
  return sum;
}
