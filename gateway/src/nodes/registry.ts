// What the gateway knows about each node: health, latency, data version and
// age, from periodic /readyz polls and from every answer the node gives.
import { request } from 'undici';

export interface NodeStatus {
  readonly id: string;
  readonly url: string;
  readonly title?: string | undefined;
  ready: boolean | undefined;
  latencyMs: number | undefined;
  dataVersion: string | undefined;
  dataAgeSeconds: number | undefined;
  checkedAt: string | undefined;
}

export interface NodeRegistry {
  list(): readonly NodeStatus[];
  dataVersionOf(node: string): string | undefined;
  noteDataVersion(node: string, version: string): void;
  /** Polls every node once; never throws. */
  poll(): Promise<void>;
  start(intervalMs: number): void;
  stop(): void;
}

export function createNodeRegistry(
  nodes: readonly { id: string; url: string; title?: string | undefined }[],
  options: { timeoutMs?: number; now?: () => Date } = {},
): NodeRegistry {
  const now = options.now ?? (() => new Date());
  const statuses = new Map<string, NodeStatus>(
    nodes.map((n) => [
      n.id,
      {
        id: n.id,
        url: n.url,
        title: n.title,
        ready: undefined,
        latencyMs: undefined,
        dataVersion: undefined,
        dataAgeSeconds: undefined,
        checkedAt: undefined,
      },
    ]),
  );
  let timer: NodeJS.Timeout | undefined;

  async function pollOne(status: NodeStatus): Promise<void> {
    const started = performance.now();
    try {
      const res = await request(new URL('/readyz', status.url), {
        headersTimeout: options.timeoutMs ?? 2000,
        bodyTimeout: options.timeoutMs ?? 2000,
      });
      const text = await res.body.text();
      status.ready = res.statusCode === 200;
      const body = JSON.parse(text) as { dataVersion?: unknown; dataAgeSeconds?: unknown };
      if (typeof body.dataVersion === 'string' && body.dataVersion.length <= 128) {
        status.dataVersion = body.dataVersion;
      }
      if (typeof body.dataAgeSeconds === 'number') status.dataAgeSeconds = body.dataAgeSeconds;
    } catch {
      status.ready = false;
    }
    status.latencyMs = Math.round((performance.now() - started) * 10) / 10;
    status.checkedAt = now().toISOString();
  }

  return {
    list: () => [...statuses.values()],
    dataVersionOf: (node) => statuses.get(node)?.dataVersion,
    noteDataVersion(node, version) {
      const status = statuses.get(node);
      if (status) status.dataVersion = version;
    },
    async poll() {
      await Promise.all([...statuses.values()].map(pollOne));
    },
    start(intervalMs) {
      timer ??= setInterval(() => void this.poll(), intervalMs).unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
