import { readFile, readdir } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderTypes } from '../scripts/generate-types.ts';

// The same comparison as `generate-types.ts --check`, so a schema edit
// without regenerated types fails the test run, not only CI.
describe('generated types', () => {
  const generated = new URL('./generated/', import.meta.url);
  let rendered: Map<string, string>;

  beforeAll(async () => {
    rendered = await renderTypes();
  }, 60_000);

  it('match the JSON Schemas they are generated from', async () => {
    const stale: string[] = [];
    for (const [name, source] of rendered) {
      const current = await readFile(new URL(name, generated), 'utf8').catch(() => '');
      if (current !== source) stale.push(name);
    }
    expect(stale).toEqual([]);
  });

  it('have a schema for every generated file', async () => {
    const files = (await readdir(generated)).filter((f) => f.endsWith('.ts'));
    expect(files.filter((f) => !rendered.has(f))).toEqual([]);
  });
});
