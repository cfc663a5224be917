// Messages between the gateway benchmark (the parent) and its child
// processes: the simulated node hosts, the gateway, the load generator and the
// OpenID provider. Every child gets its settings as JSON in argv[2].
import type { ProfileSummary } from './profile.ts';

/** A node host serves these simulated nodes, each on its own loopback port. */
export interface NodeHostInit {
  readonly nodes: readonly string[];
  /** How long each node takes to "evaluate" a query, in milliseconds. */
  readonly delayMs: number;
}

/** The hashes of query variants `from`, `from + 1`, ... */
export interface VariantHashes {
  readonly type: 'variants';
  readonly from: number;
  readonly hashes: readonly string[];
}

export type ToNodeHost = VariantHashes | { readonly type: 'stop' };

export type FromNodeHost =
  | { readonly type: 'ready'; readonly urls: Readonly<Record<string, string>> }
  | { readonly type: 'variants-ok'; readonly upTo: number };

export interface LoadInit {
  readonly token: string;
  readonly project: string;
  readonly nodes: readonly { readonly id: string; readonly url: string }[];
  /** Connections per node in the bare fan-out (the gateway's per-node pool size). */
  readonly connectionsPerNode: number;
  /** Connections from the load generator to the gateway. */
  readonly gatewayConnections: number;
  /** `Prefer: wait=<s>`. */
  readonly waitSec: number;
}

/** Variant hashes with the canonical query the gateway forwards, for the bare fan-out. */
export interface LoadVariants {
  readonly type: 'variants';
  readonly from: number;
  readonly hashes: readonly string[];
  /** JSON of the canonical, pinned query: the `query` of the node request body. */
  readonly nodeQueries: readonly string[];
}

export type Mode = 'gateway' | 'bare';

export interface StepRequest {
  readonly type: 'step';
  readonly id: number;
  readonly mode: Mode;
  /** Arrivals per second. */
  readonly rate: number;
  readonly durationSec: number;
  /** Request k of the step uses variant `firstVariant + k`, wrapped below `variantLimit`. */
  readonly firstVariant: number;
  readonly variantLimit: number;
  /** Stop sending when more than this many requests are outstanding (the step then fails). */
  readonly maxInFlight: number;
}

/** The gateway the next gateway steps go to (each store's gateway is a process of its own). */
export interface LoadGateway {
  readonly type: 'gateway';
  readonly url: string;
}

export type ToLoad = LoadVariants | LoadGateway | StepRequest | { readonly type: 'stop' };

/** What the load generator saw in one step; latencies in milliseconds. */
export interface StepRaw {
  readonly mode: Mode;
  readonly rate: number;
  readonly durationSec: number;
  /** Requests scheduled by the arrival process. */
  readonly scheduled: number;
  readonly sent: number;
  readonly ok: number;
  /** Reason → count; empty when every request succeeded. */
  readonly errors: Readonly<Record<string, number>>;
  /** Requests still outstanding when the step gave up waiting. */
  readonly unfinished: number;
  /** Stopped sending early: too many requests outstanding. */
  readonly overloaded: boolean;
  /** Dispatch to complete answer (all node answers, for the bare fan-out), successful requests. */
  readonly e2eMs: readonly number[];
  /** e2e minus the slowest node's own time, successful requests. */
  readonly addedMs: readonly number[];
  /** The slowest node's own time, successful requests. */
  readonly nodeMs: readonly number[];
  /** How late requests left against their schedule (timer resolution, a busy process). */
  readonly lagMs: readonly number[];
  /** First dispatch to last completion. */
  readonly wallMs: number;
  /** User + system CPU of the load generator during the step. */
  readonly cpuMs: number;
}

export type FromLoad =
  | { readonly type: 'ready' }
  | { readonly type: 'variants-ok'; readonly upTo: number }
  | { readonly type: 'gateway-ok'; readonly url: string }
  | { readonly type: 'step-started'; readonly id: number }
  | { readonly type: 'step-done'; readonly id: number; readonly result: StepRaw };

export type StoreKind = 'pglite' | 'postgres';

/** Where the gateway's state lives; the parent makes it and removes it after the run. */
export type StoreTarget =
  | { readonly kind: 'pglite'; readonly dataDir: string }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema: string };

export interface GatewayHostInit {
  readonly port: number;
  /** The gateway configuration as `loadConfig('gateway-config', …)` takes it. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly store: StoreTarget;
  /** Count and time the gateway's store calls (a Proxy around the store; microseconds per call). */
  readonly countStoreCalls: boolean;
  /** How often resident memory is sampled. */
  readonly rssSampleMs: number;
  /** `monitorEventLoopDelay` resolution. */
  readonly loopResolutionMs: number;
}

export interface CallStats {
  calls: number;
  ms: number;
}

/** What the gateway's process did between two `window` messages. */
export interface GatewayWindow {
  readonly id: number;
  readonly wallMs: number;
  /** User + system CPU of the whole process (every thread). */
  readonly cpuMs: number;
  /** Resident memory at the end of the window. */
  readonly rssBytes: number;
  /** Highest resident memory sampled in the window (the end included). */
  readonly peakRssBytes: number;
  /** Event-loop delay beyond the sampling interval; NaN when nothing was sampled. */
  readonly loopDelay: {
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
  };
  /** Store calls by method in the window, when counted. */
  readonly storeCalls: Readonly<Record<string, CallStats>> | undefined;
}

export type ToGatewayHost =
  /** Ends the current window (answered with its figures) and starts the next. */
  | { readonly type: 'window'; readonly id: number }
  | { readonly type: 'profile-start' }
  /** Stops the profiler, writes the profile to `file` and answers with its summary. */
  | { readonly type: 'profile-stop'; readonly file: string }
  | { readonly type: 'stop' };

export type FromGatewayHost =
  | { readonly type: 'ready'; readonly url: string; readonly storeOpenMs: number }
  | ({ readonly type: 'window' } & GatewayWindow)
  | { readonly type: 'profile-started' }
  | { readonly type: 'profile-done'; readonly summary: ProfileSummary };

export interface IdpHostInit {
  readonly client: string;
  readonly projects: readonly string[];
  readonly accessTokenTtlSec: number;
}

export interface IdpHostReady {
  readonly type: 'ready';
  readonly issuer: string;
  readonly audience: string;
  /** An access token of `client`, valid for accessTokenTtlSec. */
  readonly token: string;
}

export type ToIdpHost = { readonly type: 'stop' };
