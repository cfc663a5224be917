// A CPU profile of this process's main thread (in the benchmark, the
// gateway's), taken with the V8 sampling profiler through the inspector, and
// what it spent its time on: self time by function and by area (package,
// project directory, Node core, WebAssembly), and inclusive time of the
// project's own functions. Worker threads are not sampled.
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';

export interface CostLine {
  readonly name: string;
  /** Share of the busy (non-idle) samples, 0 to 1. */
  readonly share: number;
  readonly ms: number;
}

export interface ProfileSummary {
  readonly busyMs: number;
  /** Self time by the package or project directory whose code ran, or called the Node core or native code that ran. */
  readonly byArea: readonly CostLine[];
  readonly selfByFunction: readonly CostLine[];
  /** Project functions (gateway/, schemas/), time including what they call synchronously. */
  readonly inclusiveProject: readonly CostLine[];
}

export interface Profiling {
  /** Stops the profiler and writes the profile to `file` (open it in Chrome DevTools or speedscope). */
  stop(file: string): Promise<Profiler.Profile>;
}

/**
 * Starts the V8 sampling profiler on this process's main thread.
 * @example const profiling = await startProfile(); await work(); summariseProfile(await profiling.stop(file));
 */
export async function startProfile(): Promise<Profiling> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 1000 });
    await session.post('Profiler.start');
  } catch (err) {
    session.disconnect();
    throw err;
  }
  return {
    async stop(file) {
      try {
        const { profile } = await session.post('Profiler.stop');
        await writeFile(file, JSON.stringify(profile));
        return profile;
      } finally {
        session.disconnect();
      }
    },
  };
}

const SPECIAL = new Set(['(program)', '(garbage collector)', '(root)']);

function areaOf(frame: Profiler.ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (url === '') return SPECIAL.has(functionName) ? functionName : '(V8 builtins, native)';
  if (url.startsWith('wasm://')) return 'WebAssembly (PGlite)';
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts.slice(0, parts[0] === 'internal' ? 2 : 1).join('/')}`;
  }
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? path);
  }
  const project = /\/((?:gateway|schemas|node-adapter|tests)\/(?:src\/)?[^/]+)/.exec(path);
  return project?.[1]?.replace(/\.ts$/, '') ?? path;
}

function frameKey(frame: Profiler.ProfileNode['callFrame']): string {
  const file = frame.url.replace(/^.*\/(?=(gateway|schemas|node_modules|tests)\/)/, '');
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  // Code compiled on the fly (tsx) reports line 0 for every frame: no line then.
  if (frame.url === '') return name;
  return frame.lineNumber > 0 ? `${name} ${file}:${frame.lineNumber + 1}` : `${name} ${file}`;
}

function isProject(frame: Profiler.ProfileNode['callFrame']): boolean {
  return /\/(gateway|schemas)\/src\//.test(frame.url) && !frame.url.includes('/node_modules/');
}

function top(map: Map<string, number>, busyMs: number, count: number): CostLine[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

/** Where the busy time of a profile went. */
export function summariseProfile(profile: Profiler.Profile, count = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  const samples = profile.samples ?? [];
  samples.forEach((id, i) => {
    // A sample's time is the gap to the next sample.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  });

  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  // Node core and native frames are counted to the code that called them, so
  // a file write PGlite makes shows as PGlite's, JSON.parse in the fan-out as the fan-out's.
  const ownerArea = (id: number): string => {
    const own = byId.get(id)?.callFrame;
    if (own === undefined) return '?';
    if (SPECIAL.has(own.functionName)) return own.functionName;
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame === undefined) break;
      if (frame.url !== '' && !frame.url.startsWith('node:')) return areaOf(frame);
    }
    return areaOf(own);
  };

  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busyUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0 || node.callFrame.functionName === '(idle)') continue;
    busyUs += us;
    const area = ownerArea(node.id);
    byArea.set(area, (byArea.get(area) ?? 0) + us / 1000);
    const key = frameKey(node.callFrame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + us / 1000);
  }

  // Inclusive time: each node's subtree, counted once per stack for recursive frames.
  const totalUs = new Map<number, number>();
  const subtree = (id: number): number => {
    const known = totalUs.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let sum = selfUs.get(id) ?? 0;
    for (const child of node?.children ?? []) sum += subtree(child);
    totalUs.set(id, sum);
    return sum;
  };
  const inclusive = new Map<string, number>();
  const active = new Map<string, number>();
  const root = profile.nodes[0];
  const walk = (id: number): void => {
    const node = byId.get(id);
    if (node === undefined) return;
    const project = isProject(node.callFrame);
    const key = frameKey(node.callFrame);
    if (project) {
      if ((active.get(key) ?? 0) === 0) {
        inclusive.set(key, (inclusive.get(key) ?? 0) + subtree(id) / 1000);
      }
      active.set(key, (active.get(key) ?? 0) + 1);
    }
    for (const child of node.children ?? []) walk(child);
    if (project) active.set(key, (active.get(key) ?? 1) - 1);
  };
  if (root !== undefined) walk(root.id);

  const busyMs = busyUs / 1000;
  return {
    busyMs,
    byArea: top(byArea, busyMs, count),
    selfByFunction: top(byFunction, busyMs, count),
    inclusiveProject: top(inclusive, busyMs, count),
  };
}
