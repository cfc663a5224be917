// Whole-system tests that need a component of the machine (PostgreSQL,
// Chromium, Prometheus). Locally a missing component skips the suite with a
// one-line reason; under CI=true it fails, so CI can never pass by skipping.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { TEST_DATABASE_URL, probePostgres } from '@tessera/gateway/testing';

export interface Requirement {
  /** True when the suite must be skipped (component missing, not in CI). */
  readonly skip: boolean;
  /** Why the component is missing; undefined when it is there. */
  readonly reason: string | undefined;
}

/** True when this run is CI, where every component must be present. */
export function isCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * Checks a component once, at collection time. Missing in CI: throws, which
 * fails the test file. Missing elsewhere: prints one line and asks to skip.
 * @example
 * const chromium = await requireComponent('Chromium', () => executableMissing('/usr/bin/chromium'));
 * describe.skipIf(chromium.skip)('the web page', () => { ... });
 */
export async function requireComponent(
  name: string,
  probe: () => Promise<string | undefined>,
): Promise<Requirement> {
  let reason: string | undefined;
  try {
    reason = await probe();
  } catch (err) {
    reason = err instanceof Error ? err.message : 'probe failed';
  }
  if (reason === undefined) return { skip: false, reason: undefined };
  if (isCi()) throw new Error(`${name} is required when CI=true: ${reason}`);
  console.warn(`skipping tests that need ${name}: ${reason}`);
  return { skip: true, reason };
}

/** Undefined when `path` is an executable file, else why not. */
export async function executableMissing(path: string): Promise<string | undefined> {
  try {
    await access(path, constants.X_OK);
    return undefined;
  } catch {
    return `${path} is not installed or not executable`;
  }
}

/** Undefined when every path is executable, else the first reason. */
export async function executablesMissing(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    const missing = await executableMissing(path);
    if (missing !== undefined) return missing;
  }
  return undefined;
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
export const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
export { TEST_DATABASE_URL };

export function requireChromium(): Promise<Requirement> {
  return requireComponent('Chromium', () => executableMissing(CHROMIUM));
}

export function requirePrometheus(): Promise<Requirement> {
  return requireComponent('Prometheus', () => executablesMissing([PROMETHEUS, PROMTOOL]));
}

export function requirePostgres(): Promise<Requirement> {
  return requireComponent('PostgreSQL', async () => {
    const unavailable = await probePostgres(TEST_DATABASE_URL);
    if (unavailable === undefined) return undefined;
    const where = new URL(TEST_DATABASE_URL);
    where.password = '';
    return `unreachable at ${where.host}${where.pathname} (${unavailable})`;
  });
}
