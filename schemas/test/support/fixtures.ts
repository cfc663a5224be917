// Reads the JSON fixtures under schemas/fixtures, so every package tests
// against the same examples the documentation shows.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of schemas/fixtures/<sub>/. */
export function fixturesDir(sub: string): string {
  return fileURLToPath(new URL(`../../fixtures/${sub}/`, import.meta.url));
}

/**
 * Every `*.json` file of one fixture folder, parsed, sorted by name.
 * @example readFixtures('queries/valid') // [['example-1-....json', { version: 1, ... }], ...]
 */
export function readFixtures(sub: string): [name: string, value: unknown][] {
  const dir = fixturesDir(sub);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(dir + f, 'utf8')) as unknown]);
}
