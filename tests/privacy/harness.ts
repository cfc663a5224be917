// The attack harness's world: a generated population with known truth, real
// nodes over it, and an attacker that talks to a node only as the gateway
// would (signed POST /v1/evaluate), spreading its questions over several
// researchers of one project until the node answers 429 to every one of them.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeConfig, type NodeResult, canonicalQuery, parseQuery } from '@tessera/schemas';
import { generateRegion } from '@tessera/node-adapter';
import {
  type OracleData,
  type OraclePatient,
  type OracleResult,
  evaluateOracle,
  readFhir,
  readNdjsonDir,
} from '@tessera/node-adapter/oracle';
import { type TestNode, createTestNode } from '../support/test-node.ts';

/** Every query of the harness is asked at the generator's reference date. */
export const AS_OF = '2026-01-01';

export type Json = Record<string, unknown>;
export type Expr = Json;

// ---------------------------------------------------------------------------
// Query building blocks (the public query language, nothing else)
// ---------------------------------------------------------------------------

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const LOINC = 'http://loinc.org';
export const HBA1C = [{ system: LOINC, code: '4548-4' }];

export const all = (...children: Expr[]): Expr =>
  children.length === 1 ? children[0]! : { all: children };
export const any = (...children: Expr[]): Expr =>
  children.length === 1 ? children[0]! : { any: children };
export const not = (child: Expr): Expr => ({ not: child });

/** Patients with an ICD-10 condition (`extra`: period, atLeast). */
export const condition = (code: string, extra: Json = {}): Expr => ({
  condition: { code: [{ system: ICD10, code }], ...extra },
});
export const hasHba1c: Expr = { observation: { code: HBA1C } };
export const bornIn = (from: string, to: string): Expr => ({
  patient: { birthDate: { from, to } },
});
/** One known patient, by what an outsider may know: sex and birth date. */
export const who = (p: OraclePatient): Expr => ({
  patient: { gender: [p.gender], birthDate: { from: p.birthDate!, to: p.birthDate! } },
});

/** A version 1 query at AS_OF. */
export const query = (cohort: Expr, extra: Json = {}): Json => ({
  version: 1,
  asOf: AS_OF,
  cohort,
  ...extra,
});

// ---------------------------------------------------------------------------
// The population and its truth
// ---------------------------------------------------------------------------

export interface Population {
  readonly dir: string;
  readonly data: OracleData;
  /** Patients in birth-date order. */
  readonly byBirth: readonly OraclePatient[];
  /** Patients whose (gender, birth date) no one else shares: `who` finds exactly them. */
  readonly identifiable: ReadonlySet<string>;
  /** The true figures of a query, by the brute-force oracle over the same NDJSON. */
  truth(q: Json): OracleResult;
  /** The ids of a cohort, by the oracle. */
  members(cohort: Expr): Set<string>;
  close(): Promise<void>;
}

/**
 * A synthetic region written as FHIR NDJSON by the node's own generator, read
 * back by the oracle (never by ingest).
 */
export async function generatePopulation(patients: number, seed: number): Promise<Population> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-privacy-'));
  await generateRegion({ region: 'sachsen', patients, seed, outDir: dir });
  const data = readFhir(await readNdjsonDir(dir));
  const byBirth = [...data.patients.values()]
    .filter((p) => p.birthDate !== undefined)
    .sort((a, b) => (a.birthDate! < b.birthDate! ? -1 : a.birthDate! > b.birthDate! ? 1 : 0));
  const seen = new Map<string, number>();
  for (const p of byBirth)
    seen.set(`${p.gender}|${p.birthDate}`, (seen.get(`${p.gender}|${p.birthDate}`) ?? 0) + 1);
  const identifiable = new Set(
    byBirth.filter((p) => seen.get(`${p.gender}|${p.birthDate}`) === 1).map((p) => p.id),
  );
  const truth = (q: Json): OracleResult =>
    evaluateOracle(data, { ...canonicalQuery(parseQuery(q)), asOf: AS_OF });
  // The oracle reports a cell's members only as the sum of their record keys
  // (mod 2^32). With keys 2^0..2^30 for 31 patients at a time and 0 for the
  // others, that sum is the bit set of the members among those 31.
  const ids = [...data.patients.keys()];
  const memberCache = new Map<string, Set<string>>();
  const members = (cohort: Expr): Set<string> => {
    const key = JSON.stringify(cohort);
    const known = memberCache.get(key);
    if (known !== undefined) return known;
    const canonical = { ...canonicalQuery(parseQuery(query(cohort))), asOf: AS_OF };
    const found = new Set<string>();
    for (let start = 0; start < ids.length; start += 31) {
      const bit = new Map(ids.slice(start, start + 31).map((id, i) => [id, 2 ** i]));
      const { cellKey } = evaluateOracle(data, canonical, {
        recordKey: (id) => bit.get(id) ?? 0,
      }).total;
      for (const [id, b] of bit) if ((cellKey! & b) !== 0) found.add(id);
    }
    memberCache.set(key, found);
    return found;
  };
  return {
    dir,
    data,
    byBirth,
    identifiable,
    truth,
    members,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * `count` birth-date windows holding `size` patients each, starting at
 * distinct positions drawn from `seed`: cohorts large enough that the node
 * always releases them, used as paddings and trackers.
 */
export function birthWindows(pop: Population, size: number, count: number, seed: number): Expr[] {
  const n = pop.byBirth.length;
  const starts = new Set<number>();
  let x = (seed * 2654435761) >>> 0;
  for (let guard = 0; starts.size < count && guard < count * 100; guard++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    starts.add(x % (n - size));
  }
  return [...starts].map((s) =>
    bornIn(pop.byBirth[s]!.birthDate!, pop.byBirth[s + size - 1]!.birthDate!),
  );
}

// ---------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------

export interface AttackNode {
  readonly node: TestNode;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A real node over the population: ingested into DuckDB, with its own fresh
 * noise key and record keys, listening on a loopback port.
 */
export async function startNode(
  pop: Population,
  options: { policy?: NodeConfig['policy'] | undefined; projects: string[] },
): Promise<AttackNode> {
  const node = await createTestNode({
    sources: [pop.dir],
    projects: options.projects,
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    allowOpenPolicy: options.policy === 'open',
  });
  const server: Server = node.service.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    node,
    url: `http://127.0.0.1:${port}/v1/evaluate`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await node.close();
    },
  };
}

// ---------------------------------------------------------------------------
// The attacker
// ---------------------------------------------------------------------------

export type Reply =
  | { readonly ok: true; readonly result: NodeResult }
  | { readonly ok: false; readonly status: number; readonly code: string };

export interface AttackerOptions {
  /** Researchers (token `sub`s) of the project the attacker may use. */
  readonly researchers?: readonly string[];
  /** The attacker's own limit, for mechanisms without a budget. */
  readonly maxQueries?: number;
}

/**
 * One project's researchers asking one node. A researcher refused with 429
 * (budget or repeat limit) hands over to the next; when all are refused, or
 * `maxQueries` answers were received, the attacker has stopped.
 */
export class Attacker {
  readonly #node: AttackNode;
  readonly #project: string;
  readonly #researchers: readonly string[];
  readonly #maxQueries: number;
  #current = 0;
  /** Answers received (released results and other refusals). */
  answers = 0;
  stopped = false;
  /** Codes of the 429s that stopped researchers. */
  readonly stops: string[] = [];

  constructor(node: AttackNode, project: string, options: AttackerOptions = {}) {
    this.#node = node;
    this.#project = project;
    this.#researchers = options.researchers ?? ['analyst-1', 'analyst-2', 'analyst-3'];
    this.#maxQueries = options.maxQueries ?? Infinity;
  }

  /** The node's reply, or undefined once the attacker has stopped. */
  async send(q: Json): Promise<Reply | undefined> {
    while (!this.stopped) {
      if (this.answers >= this.#maxQueries) {
        this.stopped = true;
        break;
      }
      const body = JSON.stringify({ query: q, requestId: `attack-${this.answers}` });
      const token = this.#node.node.sign(body, {
        sub: this.#researchers[this.#current]!,
        project: this.#project,
      });
      const res = await fetch(this.#node.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
      const json = (await res.json()) as Json;
      if (res.status === 429) {
        this.stops.push(String(json.code));
        this.#current += 1;
        if (this.#current >= this.#researchers.length) this.stopped = true;
        continue;
      }
      this.answers += 1;
      if (res.status === 200) return { ok: true, result: json as unknown as NodeResult };
      return { ok: false, status: res.status, code: String(json.code) };
    }
    return undefined;
  }

  /** A released result, or undefined once stopped; any other refusal is a harness error. */
  async ask(q: Json): Promise<NodeResult | undefined> {
    const reply = await this.send(q);
    if (reply === undefined) return undefined;
    if (!reply.ok) {
      throw new Error(`node refused an attack query: ${reply.status} ${reply.code}`);
    }
    return reply.result;
  }
}

/**
 * A few real nodes under one policy, each answering many projects. Every
 * trial of an attack is one fresh project (its own budget) on the next node
 * in turn; trials ask different queries, so their noise is independent on
 * one node as on several.
 */
export class NodePool {
  readonly #pop: Population;
  readonly #policy: NodeConfig['policy'] | undefined;
  readonly #size: number;
  readonly #projectsPerNode: number;
  #nodes: AttackNode[] = [];
  #next = 0;

  constructor(
    pop: Population,
    options: { policy?: NodeConfig['policy']; nodes: number; projectsPerNode?: number },
  ) {
    this.#pop = pop;
    this.#policy = options.policy;
    this.#size = options.nodes;
    this.#projectsPerNode = options.projectsPerNode ?? 200;
  }

  async start(): Promise<void> {
    for (let n = 0; n < this.#size; n++) {
      const projects = Array.from({ length: this.#projectsPerNode }, (_, i) => `attack-${i}`);
      this.#nodes.push(await startNode(this.#pop, { policy: this.#policy, projects }));
    }
  }

  /** Runs `count` trials one after the other, each as a fresh project on the next node. */
  async trials<T>(
    count: number,
    trial: (node: AttackNode, project: string, index: number) => Promise<T>,
  ): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < count; i++) {
      const slot = this.#next++;
      const node = this.#nodes[slot % this.#nodes.length]!;
      const project = `attack-${Math.floor(slot / this.#nodes.length)}`;
      if (Math.floor(slot / this.#nodes.length) >= this.#projectsPerNode) {
        throw new Error('node pool has no project left');
      }
      out.push(await trial(node, project, i));
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => n.close()));
    this.#nodes = [];
  }
}
