// The example queries the demo and the web page offer are fixtures: one home,
// checked like every other valid query, and served from the package as data.
import { readFile, readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_QUERIES } from '../src/index.ts';
import { parseQuery } from '../src/query/parse.ts';

const QUERIES = new URL('../fixtures/queries/', import.meta.url);

describe('example queries', () => {
  it('are every example-* fixture, in the order of examples.json', async () => {
    const manifest = JSON.parse(await readFile(new URL('examples.json', QUERIES), 'utf8')) as {
      fixture: string;
    }[];
    const files = (await readdir(new URL('valid/', QUERIES))).filter((f) =>
      f.startsWith('example-'),
    );
    expect(manifest.map((e) => e.fixture.replace('valid/', '')).sort()).toEqual(files.sort());
    expect(EXAMPLE_QUERIES.map((e) => `valid/${e.id}.json`)).toEqual(
      manifest.map((e) => e.fixture),
    );
  });

  it.each(EXAMPLE_QUERIES.map((e) => [e.id, e] as const))(
    '%s is its fixture and a valid query',
    async (id, example) => {
      const fixture: unknown = JSON.parse(
        await readFile(new URL(`valid/${id}.json`, QUERIES), 'utf8'),
      );
      expect(example.query).toEqual(fixture);
      expect(parseQuery(structuredClone(example.query))).toEqual(fixture);
      expect(example.title.length).toBeGreaterThan(0);
      expect(example.description.length).toBeGreaterThan(0);
    },
  );

  it('have distinct ids and titles, so a menu can offer them', () => {
    expect(new Set(EXAMPLE_QUERIES.map((e) => e.id)).size).toBe(EXAMPLE_QUERIES.length);
    expect(new Set(EXAMPLE_QUERIES.map((e) => e.title)).size).toBe(EXAMPLE_QUERIES.length);
  });
});
