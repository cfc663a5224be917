// Load against gateway replicas, one of them killed while it runs: a steady
// stream of distinct queries, a record of every job a gateway accepted (200
// or 202), and what must hold of those jobs afterwards. A job the killed
// replica is certainly running at the kill is made by holding one node
// (SIGSTOP) while it is submitted: the answer cannot come back before the kill.
import type { AuditJson, MergedResult } from '@tessera/schemas';
import { type StoreTarget, openStore } from '@tessera/gateway';
import type { Federation } from '../support/federation.ts';
import { type Caller, type JobView, get, submit } from '../support/gateway-client.ts';
import { eventually } from '../support/processes.ts';
import { patientsAged } from '../e2e/queries.ts';

/** A job a replica answered for: 200 (finished while the researcher waited) or 202. */
export interface AcceptedJob {
  readonly id: string;
  /** Which replica answered, as an index into `Federation.gatewayUrls`. */
  readonly replica: number;
  readonly status: 200 | 202;
  /** The figures of a 200 that carried them. */
  readonly result: MergedResult | undefined;
}

export interface Load {
  readonly accepted: readonly AcceptedJob[];
  acceptedOn(replica: number): number;
  /** Stops submitting; settles once every request in flight is answered or has failed. */
  stop(): Promise<void>;
}

/**
 * A different question for every `n`, so that the load runs fan-outs rather
 * than meeting its own cached answers: ages [a, b] with a < b, all distinct.
 */
function distinctQuery(n: number) {
  const min = n % 100;
  return patientsAged(min, min + 1 + Math.floor(n / 100));
}

/**
 * Keeps `workersPerReplica` queries in flight against every replica, every
 * other one with `Prefer: wait`. A worker whose replica stops answering
 * (killed) stops with it; what it had in flight then is not an answer.
 */
export function startLoad(
  urls: readonly string[],
  token: string,
  { workersPerReplica = 3 }: { workersPerReplica?: number } = {},
): Load {
  const accepted: AcceptedJob[] = [];
  let next = 0;
  let stopped = false;
  const worker = async (replica: number): Promise<void> => {
    const caller: Caller = { gatewayUrl: urls[replica]!, token };
    while (!stopped) {
      const n = next++;
      let res;
      try {
        res = await submit(caller, distinctQuery(n), n % 2 === 0 ? { wait: 10 } : {});
      } catch {
        return;
      }
      if (res.status === 200 || res.status === 202) {
        accepted.push({ id: res.body.id, replica, status: res.status, result: res.body.result });
      }
    }
  };
  const workers = urls.flatMap((_, replica) =>
    Array.from({ length: workersPerReplica }, () => worker(replica)),
  );
  return {
    accepted,
    acceptedOn: (replica) => accepted.filter((job) => job.replica === replica).length,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

export interface KillUnderLoad {
  /** Every job a replica accepted, before and after the kill. */
  readonly accepted: readonly AcceptedJob[];
  /** Jobs the killed replica was running when it was killed. */
  readonly interrupted: readonly string[];
  /** The killed process's id. */
  readonly killedPid: number;
}

const HELD_JOBS = 3;
/** Jobs each replica accepts before the kill, and each survivor after it. */
const JOBS_AROUND_THE_KILL = 10;

/**
 * Runs load against every replica, kills replica `victim` with SIGKILL while
 * it runs jobs that `holdingNode` holds, lets the load go on against the
 * survivors for a while, and stops it.
 */
export async function killReplicaUnderLoad(
  fed: Federation,
  { token, victim, holdingNode }: { token: string; victim: number; holdingNode: string },
): Promise<KillUnderLoad> {
  const urls = fed.gatewayUrls;
  const survivors = urls.map((_, i) => i).filter((i) => i !== victim);
  const load = startLoad(urls, token);
  try {
    await eventually(
      `${JOBS_AROUND_THE_KILL} accepted jobs on every replica`,
      () => (urls.every((_, i) => load.acceptedOn(i) >= JOBS_AROUND_THE_KILL) ? true : undefined),
      60_000,
    );
    const node = fed.node(holdingNode).process;
    const interrupted: string[] = [];
    const killed = fed.gateways[victim]!;
    const killedPid = killed.child.pid!;
    node.kill('SIGSTOP');
    try {
      const onVictim: Caller = { gatewayUrl: urls[victim]!, token };
      // Read where the jobs will be read after the kill: a survivor, when there is one.
      const reader: Caller = { gatewayUrl: urls[survivors[0] ?? victim]!, token };
      for (let i = 0; i < HELD_JOBS; i += 1) {
        const res = await submit(onVictim, patientsAged(101 + i, 120));
        if (res.status !== 202)
          throw new Error(`a held job was answered ${res.status}: ${res.text}`);
        const seen = await get<JobView>(reader, `/v1/queries/${res.body.id}`);
        if (seen.body.status !== 'running') {
          throw new Error(`a held job is ${seen.body.status}, not running: ${seen.text}`);
        }
        interrupted.push(res.body.id);
      }
      await fed.killGateway(victim);
    } finally {
      node.kill('SIGCONT');
    }
    const before = survivors.map((i) => load.acceptedOn(i));
    await eventually(
      `${JOBS_AROUND_THE_KILL} more accepted jobs on every surviving replica`,
      () =>
        survivors.every((i, k) => load.acceptedOn(i) >= before[k]! + JOBS_AROUND_THE_KILL)
          ? true
          : undefined,
      60_000,
    );
    return { accepted: load.accepted, interrupted, killedPid };
  } finally {
    await load.stop();
  }
}

/** Reads one job; throws unless the gateway has it. */
export async function readJob(caller: Caller, id: string): Promise<JobView> {
  const res = await get<JobView>(caller, `/v1/queries/${id}`);
  if (res.status !== 200) throw new Error(`GET job ${id} answered ${res.status}: ${res.text}`);
  return res.body;
}

type AuditObject = Readonly<Record<string, AuditJson>>;

const ENDED = new Set(['done', 'failed', 'cancelled']);

/**
 * Reads every job through `caller` until each has ended.
 * @throws naming the jobs still unfinished when the time runs out
 */
export async function waitForEnds(
  caller: Caller,
  ids: readonly string[],
  timeoutMs = 60_000,
): Promise<Map<string, JobView>> {
  const ended = new Map<string, JobView>();
  let open: string[] = [...ids];
  await eventually(
    `${ids.length} jobs to end`,
    async () => {
      const jobs = await Promise.all(open.map((id) => readJob(caller, id)));
      for (const job of jobs) if (ENDED.has(job.status)) ended.set(job.id, job);
      open = open.filter((id) => !ended.has(id));
      if (open.length > 0) throw new Error(`still unfinished: ${open.join(', ')}`);
      return true;
    },
    timeoutMs,
  );
  return ended;
}

/** The job of every `query.result` entry in the gateway's audit log. */
export async function auditedResults(target: StoreTarget): Promise<Set<string>> {
  const store = await openStore(target, { migrate: false });
  try {
    const entries = await store.auditEntries();
    return new Set(
      entries.flatMap((entry) => {
        const { detail } = entry;
        if (entry.action !== 'query.result' || typeof detail !== 'object' || detail === null) {
          return [];
        }
        const job = Array.isArray(detail) ? undefined : (detail as AuditObject).job;
        return typeof job === 'string' ? [job] : [];
      }),
    );
  } finally {
    await store.close();
  }
}
