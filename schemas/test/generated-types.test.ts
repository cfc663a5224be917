import { readFile, readdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderGenerated } from '../scripts/generate-types.ts';

// The same comparison as `generate-types.ts --check`, so a schema or example
// edit without regenerated files fails the test run, not only CI.
describe('generated types and examples', () => {
  const generated = new URL('../src/generated/', import.meta.url);
  let rendered: Map<string, string>;

  beforeAll(async () => {
    rendered = await renderGenerated();
  }, 60_000);

  it('match the JSON Schemas and fixtures they are generated from', async () => {
    const stale: string[] = [];
    for (const [name, source] of rendered) {
      const current = await readFile(new URL(name, generated), 'utf8').catch(() => '');
      if (current !== source) stale.push(name);
    }
    expect(stale).toEqual([]);
  });

  it('have a source for every generated file', async () => {
    const files = (await readdir(generated)).filter((f) => f.endsWith('.ts'));
    expect(files.filter((f) => !rendered.has(f))).toEqual([]);
  });
});
