// Messages between the gateway benchmark (the parent, which also runs the
// gateway) and its child processes: the simulated node hosts, the load
// generator and the OpenID provider. Every child gets its settings as JSON in argv[2].

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
  readonly gatewayUrl: string;
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

export type ToLoad = LoadVariants | StepRequest | { readonly type: 'stop' };

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
  | { readonly type: 'step-started'; readonly id: number }
  | { readonly type: 'step-done'; readonly id: number; readonly result: StepRaw };

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
