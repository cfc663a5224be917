// What the gateway knows about each node: health, latency, data version and
// age, from periodic /readyz polls and from every answer the node gives.
import type { NodeClient } from './node-client.ts';

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
  /** Polls every node once; never throws. Run periodically by the gateway's supervisor. */
  poll(): Promise<void>;
}

export interface NodeRegistryOptions {
  /** Reaches the nodes; each listed node must be one of its nodes. */
  readonly client: NodeClient;
  /** A probe's deadline (config `health.timeoutMs`). */
  readonly timeoutMs: number;
  /** Largest /readyz body read; a larger one makes the node not ready (config `health.maxBodyBytes`). */
  readonly maxBodyBytes: number;
  readonly now?: () => Date;
}

/**
 * @example const registry = createNodeRegistry(config.nodes, { client, timeoutMs: 2000, maxBodyBytes: 16_384 });
 *   await registry.poll(); registry.list();
 */
export function createNodeRegistry(
  nodes: readonly { id: string; url: string; title?: string | undefined }[],
  options: NodeRegistryOptions,
): NodeRegistry {
  const now = options.now ?? (() => new Date());
  const limits = { timeoutMs: options.timeoutMs, maxBodyBytes: options.maxBodyBytes };
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

  async function pollOne(status: NodeStatus): Promise<void> {
    const started = performance.now();
    try {
      const { statusCode, body } = await options.client.getJson(status.id, '/readyz', limits);
      status.ready = statusCode === 200;
      // A body of `null` throws here, and leaves the node not ready.
      const { dataVersion, dataAgeSeconds } = body as {
        dataVersion?: unknown;
        dataAgeSeconds?: unknown;
      };
      if (typeof dataVersion === 'string' && dataVersion.length <= 128) {
        status.dataVersion = dataVersion;
      }
      if (typeof dataAgeSeconds === 'number') status.dataAgeSeconds = dataAgeSeconds;
    } catch {
      // Unreachable, too slow, too large or not JSON: not ready, and nothing it sent is kept.
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
  };
}
