// The flood benchmark's client, a child process of its own so that it does
// not share the gateway's event loop: on each `flood` message it sends `count`
// queries to the gateway at the same moment, from one researcher, each a
// different variant, and reports every answer's status and latency (from the
// moment the burst left to the moment that answer was read).
//
// Started by tests/bench/flood.ts with a FloodInit as JSON in argv[2].
import { Pool } from 'undici';
import { variantQuery } from './variants.ts';

export interface FloodInit {
  readonly gatewayUrl: string;
  readonly token: string;
  readonly project: string;
  /** Connections to the gateway: one per query of the largest burst. */
  readonly connections: number;
}

export interface FloodRequest {
  readonly type: 'flood';
  readonly id: number;
  readonly count: number;
  readonly firstVariant: number;
}

export interface FloodAnswer {
  readonly status: number;
  readonly code: string | undefined;
  readonly ms: number;
}

export type ToFloodClient = FloodRequest | { readonly type: 'stop' };
export type FromFloodClient =
  | { readonly type: 'ready' }
  | { readonly type: 'flood-done'; readonly id: number; readonly answers: readonly FloodAnswer[] };

const init = JSON.parse(process.argv[2] ?? '{}') as FloodInit;
const gateway = new Pool(init.gatewayUrl, { connections: init.connections, pipelining: 1 });

function codeOf(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

async function flood(request: FloodRequest): Promise<FloodAnswer[]> {
  const bodies = Array.from({ length: request.count }, (_, k) =>
    JSON.stringify(variantQuery(request.firstVariant + k)),
  );
  const left = performance.now();
  return Promise.all(
    bodies.map(async (body) => {
      const response = await gateway.request({
        path: '/v1/queries',
        method: 'POST',
        headers: {
          authorization: `Bearer ${init.token}`,
          'content-type': 'application/json',
          'x-tessera-project': init.project,
        },
        body,
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        code: response.statusCode >= 400 ? codeOf(text) : undefined,
        ms: performance.now() - left,
      };
    }),
  );
}

// Without the parent (it exited or was killed) there is nothing left to do.
process.on('disconnect', () => process.exit(0));
process.on('message', (raw) => {
  const message = raw as ToFloodClient;
  if (message.type === 'stop') {
    void gateway.close().finally(() => process.disconnect());
    return;
  }
  void flood(message).then((answers) =>
    process.send?.({ type: 'flood-done', id: message.id, answers } satisfies FromFloodClient),
  );
});
process.send?.({ type: 'ready' } satisfies FromFloodClient);
