// Following one job as a stream of events, for whoever shows progress (the
// HTTP event stream): each node's outcome once, then the finished job, once.
// A listener may arrive at any time, so what already happened is replayed
// from the query service first, and what happens meanwhile is held back
// until the replay is out, so that nothing is missed or sent out of order.
// A job that another gateway replica runs emits nothing here: its progress
// is read from the store instead, every `pollMs`.
import type { NodeOutcome } from '@tessera/schemas';
import type { Researcher } from '../auth/researcher.ts';
import type { JobRecord } from '../store/store.ts';
import { type JobEvent, type QueryService, isFinished } from './service.ts';

/** How often a job run by another replica is read again, by default. */
export const FOLLOW_POLL_MS = 1000;

/** What following a job needs of the query service. */
export type FollowedJobs = Pick<QueryService, 'subscribe' | 'outcomes' | 'get' | 'isRunningHere'>;

/** Where a followed job's events go. */
export interface JobEventSink {
  /** One node's outcome, as progress; at most once per node, never after `result`. */
  node(outcome: NodeOutcome): void;
  /** The finished job; the last call. */
  result(job: JobRecord): void;
}

export interface JobFollower {
  /** Settles once what had happened before the follow began has been passed on. */
  readonly caughtUp: Promise<void>;
  /** Stops following (the listener went away); nothing is passed on after it. */
  stop(): void;
}

/**
 * Follows `job`, which `researcher` may see, into `sink` until it finishes or `stop` is called.
 * @example const follower = followJob(queries, job, researcher, { node: show, result: end });
 *   res.on('close', follower.stop); await follower.caughtUp;
 */
export function followJob(
  jobs: FollowedJobs,
  job: JobRecord,
  researcher: Researcher,
  sink: JobEventSink,
  pollMs = FOLLOW_POLL_MS,
): JobFollower {
  let open = true;
  const sent = new Set<string>();
  const node = (outcome: NodeOutcome): void => {
    if (!open || sent.has(outcome.node)) return;
    sent.add(outcome.node);
    sink.node(outcome);
  };
  const finish = (final: JobRecord): void => {
    if (!open) return;
    stop();
    sink.result(final);
  };
  const deliver = (event: JobEvent): void => {
    if (event.type === 'node') node(event.outcome);
    else finish(event.job);
  };

  // Subscribed before anything is read, so nothing that happens in between is
  // missed; events are held until the replay has gone out.
  let held: JobEvent[] | undefined = [];
  const unsubscribe = jobs.subscribe(job.id, (event) => {
    if (held) held.push(event);
    else deliver(event);
  });
  const poll = jobs.isRunningHere(job.id)
    ? undefined
    : setInterval(() => void catchUp().catch(() => undefined), pollMs).unref();

  function stop(): void {
    if (!open) return;
    open = false;
    unsubscribe();
    if (poll) clearInterval(poll);
  }

  async function catchUp(): Promise<void> {
    for (const outcome of await jobs.outcomes(job.id)) node(outcome);
    const latest = await jobs.get(job.id, researcher);
    if (isFinished(latest)) finish(latest);
  }

  const caughtUp = catchUp().then(() => {
    const early = held ?? [];
    held = undefined;
    for (const event of early) deliver(event);
  });
  return { caughtUp, stop };
}
