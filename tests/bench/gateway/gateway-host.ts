// The gateway under test in a child process of its own, so that the CPU,
// resident memory and event-loop delay the benchmark reports are the
// gateway's alone: `createGatewayService` on the store the parent names,
// listening on loopback. With `countStoreCalls` its store is wrapped in the
// counting proxy (store-calls.ts); a CPU profile, when asked for, is taken
// here (profile.ts).
//
// The parent asks for figures with `window` messages: each answer covers the
// time since the previous one (CPU, resident memory at the end and its peak
// sampled every `rssSampleMs`, event-loop delay, store calls) and starts the
// next window.
//
// Started by tests/bench/gateway.ts with a GatewayHostInit as JSON in argv[2];
// sends `ready` once the gateway listens, exits on `stop`.
import type { Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { listen } from '@tessera/http-kit';
import { loadConfig } from '@tessera/schemas';
import { createGatewayService, createPostgresStore, openStore } from '@tessera/gateway';
import type { GatewayService, Store } from '@tessera/gateway';
import { startProfile, summariseProfile } from './profile.ts';
import type { Profiling } from './profile.ts';
import type {
  FromGatewayHost,
  GatewayHostInit,
  GatewayWindow,
  StoreTarget,
  ToGatewayHost,
} from './protocol.ts';
import { countingStore } from './store-calls.ts';
import type { CountingStore } from './store-calls.ts';

const init = JSON.parse(process.argv[2] ?? '{}') as GatewayHostInit;

function send(message: FromGatewayHost): void {
  process.send?.(message);
}

function openBenchStore(target: StoreTarget): Promise<Store> {
  return target.kind === 'pglite'
    ? openStore({ dataDir: target.dataDir })
    : createPostgresStore({ connectionString: target.connectionString, schema: target.schema });
}

/** CPU, resident memory and event-loop delay since the last call; each call starts a new window. */
function createWindows(counted: CountingStore | undefined): (id: number) => GatewayWindow {
  const loop = monitorEventLoopDelay({ resolution: init.loopResolutionMs });
  loop.enable();
  // process.memoryUsage.rss() reads the same figure as process.memoryUsage().rss without walking the heap.
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, init.rssSampleMs);
  sampler.unref();
  let cpu = process.cpuUsage();
  let started = performance.now();
  // The histogram holds the time between the monitor's timer callbacks: the interval plus the delay.
  const delayMs = (ns: number): number =>
    loop.count === 0 ? Number.NaN : Math.max(0, ns / 1e6 - init.loopResolutionMs);
  return (id) => {
    const used = process.cpuUsage(cpu);
    const rssBytes = process.memoryUsage.rss();
    const window: GatewayWindow = {
      id,
      wallMs: performance.now() - started,
      cpuMs: (used.user + used.system) / 1000,
      rssBytes,
      peakRssBytes: Math.max(peakRss, rssBytes),
      loopDelay: {
        p50Ms: delayMs(loop.percentile(50)),
        p99Ms: delayMs(loop.percentile(99)),
        maxMs: delayMs(loop.max),
      },
      storeCalls: counted === undefined ? undefined : Object.fromEntries(counted.snapshot()),
    };
    cpu = process.cpuUsage();
    started = performance.now();
    peakRss = rssBytes;
    loop.reset();
    counted?.reset();
    return window;
  };
}

// Without the parent (it exited or was killed) there is nothing left to do.
process.on('disconnect', () => process.exit(0));

async function start(): Promise<void> {
  const opened = performance.now();
  const store = await openBenchStore(init.store);
  const storeOpenMs = performance.now() - opened;
  const counted = init.countStoreCalls ? countingStore(store) : undefined;
  const config = loadConfig('gateway-config', init.config);
  const gateway: GatewayService = await createGatewayService(config, {
    store: counted?.store ?? store,
    pollIntervalSec: 0,
  });
  const { server, url } = await listen(gateway.app, '127.0.0.1', init.port);
  const window = createWindows(counted);
  let profiling: Profiling | undefined;

  const handle = async (message: ToGatewayHost): Promise<void> => {
    switch (message.type) {
      case 'window':
        send({ type: 'window', ...window(message.id) });
        break;
      case 'profile-start':
        profiling = await startProfile();
        send({ type: 'profile-started' });
        break;
      case 'profile-stop': {
        if (profiling === undefined) throw new Error('gateway host: no profile was started');
        const profile = await profiling.stop(message.file);
        profiling = undefined;
        send({ type: 'profile-done', summary: summariseProfile(profile) });
        break;
      }
      case 'stop':
        await stop(server, gateway, store);
        process.disconnect();
        break;
    }
  };
  process.on('message', (message: ToGatewayHost) => {
    handle(message).catch((err: unknown) => {
      process.stderr.write(`gateway host: ${String(err)}\n`);
      process.exit(1);
    });
  });
  send({ type: 'ready', url, storeOpenMs });
}

async function stop(server: Server, gateway: GatewayService, store: Store): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await gateway.close();
  // The gateway leaves a store it was given open.
  await store.close();
}

try {
  await start();
} catch (err) {
  process.stderr.write(
    `gateway host: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
