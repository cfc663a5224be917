import type { CanonicalQuery, MergedResult, NodeOutcome } from '@tessera/schemas';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Researcher } from '../auth/researcher.ts';
import type { JobRecord } from '../store/store.ts';
import { type FollowedJobs, followJob } from './events.ts';
import type { JobEvent } from './service.ts';

const researcher: Researcher = { sub: 'alice', projects: ['diabetes'], scopes: ['tessera:query'] };
const at = new Date('2026-11-20T10:00:00Z');
const running: JobRecord = {
  id: 'job-1',
  status: 'running',
  researcher: 'alice',
  project: 'diabetes',
  queryHash: 'sha256:abc',
  query: { version: 1 } as unknown as CanonicalQuery,
  submittedQuery: null,
  nodes: ['alpha', 'beta'],
  createdAt: at,
  updatedAt: at,
  result: null,
  errorCode: null,
};
const done: JobRecord = {
  ...running,
  status: 'done',
  result: { complete: true } as unknown as MergedResult,
};
const ok = (node: string): NodeOutcome => ({ node, status: 'ok', elapsedMs: 3 });

/** A query service that holds one job; `emit` is what its run would tell listeners. */
function fakeJobs(options: { here: boolean; stored?: NodeOutcome[]; latest?: JobRecord }) {
  const listeners = new Set<(event: JobEvent) => void>();
  const state = { stored: options.stored ?? [], latest: options.latest ?? running };
  let beforeReplay: () => void = () => undefined;
  const jobs: FollowedJobs = {
    subscribe: (_id, listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    outcomes: () => {
      beforeReplay();
      return Promise.resolve([...state.stored]);
    },
    get: () => Promise.resolve(state.latest),
    isRunningHere: () => options.here,
  };
  return {
    jobs,
    state,
    listeners,
    emit: (event: JobEvent) => listeners.forEach((l) => l(event)),
    /** Runs `act` while the follower reads what is stored. */
    duringReplay: (act: () => void) => (beforeReplay = act),
  };
}

function recorder() {
  const seen: string[] = [];
  return {
    seen,
    sink: {
      node: (outcome: NodeOutcome) => seen.push(`node ${outcome.node}`),
      result: (job: JobRecord) => seen.push(`result ${job.status}`),
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('followJob', () => {
  it('replays what happened, then passes live events on, each node once and the result last', async () => {
    const fake = fakeJobs({ here: true, stored: [ok('alpha')] });
    const { seen, sink } = recorder();
    const follower = followJob(fake.jobs, running, researcher, sink);
    await follower.caughtUp;
    fake.emit({ type: 'node', outcome: ok('alpha') });
    fake.emit({ type: 'node', outcome: ok('beta') });
    fake.emit({ type: 'result', job: done });
    fake.emit({ type: 'node', outcome: ok('gamma') });
    expect(seen).toEqual(['node alpha', 'node beta', 'result done']);
    expect(fake.listeners.size).toBe(0);
  });

  it('holds events that arrive during the replay until the replay is out', async () => {
    const fake = fakeJobs({ here: true, stored: [ok('alpha')] });
    fake.duringReplay(() => {
      fake.emit({ type: 'node', outcome: ok('beta') });
      fake.emit({ type: 'result', job: done });
    });
    const { seen, sink } = recorder();
    await followJob(fake.jobs, running, researcher, sink).caughtUp;
    expect(seen).toEqual(['node alpha', 'node beta', 'result done']);
  });

  it('ends at once for a job that had finished', async () => {
    const fake = fakeJobs({ here: false, stored: [ok('alpha'), ok('beta')], latest: done });
    const { seen, sink } = recorder();
    await followJob(fake.jobs, running, researcher, sink).caughtUp;
    expect(seen).toEqual(['node alpha', 'node beta', 'result done']);
    expect(fake.listeners.size).toBe(0);
  });

  it('reads a job another replica runs from the store until it finishes', async () => {
    vi.useFakeTimers();
    const fake = fakeJobs({ here: false });
    const { seen, sink } = recorder();
    await followJob(fake.jobs, running, researcher, sink, 1000).caughtUp;
    expect(seen).toEqual([]);
    fake.state.stored = [ok('alpha')];
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual(['node alpha']);
    fake.state.stored = [ok('alpha'), ok('beta')];
    fake.state.latest = done;
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual(['node alpha', 'node beta', 'result done']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes nothing on once stopped', async () => {
    const fake = fakeJobs({ here: true });
    const { seen, sink } = recorder();
    const follower = followJob(fake.jobs, running, researcher, sink);
    await follower.caughtUp;
    follower.stop();
    fake.emit({ type: 'node', outcome: ok('alpha') });
    fake.emit({ type: 'result', job: done });
    expect(seen).toEqual([]);
    expect(fake.listeners.size).toBe(0);
  });
});
