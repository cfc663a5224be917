import { readFile } from 'node:fs/promises';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CohortQuery } from '../src/generated/query.ts';
import type { NodeResult } from '../src/generated/node-result.ts';
import * as schemas from '../src/index.ts';
import { ProblemError } from '../src/problem.ts';
import {
  type SchemaName,
  assertSchema,
  isValid,
  matchesDefinition,
  schemaId,
} from '../src/validate.ts';

// Every name once; `satisfies` fails typechecking when SchemaTypes gains or loses one.
const NAMES = Object.keys({
  query: true,
  'node-result': true,
  'merged-result': true,
  catalogue: true,
  problem: true,
  'node-policy': true,
} satisfies Record<SchemaName, true>) as SchemaName[];

const QUERY = { version: 1, cohort: { patient: { gender: ['female'] } } };

describe('validators by schema name', () => {
  it.each(NAMES)('%s is the schema in json/<name>.schema.json', async (name) => {
    const file = new URL(`../json/${name}.schema.json`, import.meta.url);
    const schema = JSON.parse(await readFile(file, 'utf8')) as { $id: string };
    expect(schemaId(name)).toBe(schema.$id);
  });

  it('type a valid document by the schema named, and only by it', () => {
    const input: unknown = structuredClone(QUERY);
    expect(isValid('query', input)).toBe(true);
    expect(isValid('node-result', input)).toBe(false);
    if (isValid('query', input)) expectTypeOf(input).toEqualTypeOf<CohortQuery>();
    if (isValid('node-result', input)) expectTypeOf(input).toEqualTypeOf<NodeResult>();
    // @ts-expect-error the type follows from the name; a caller cannot choose another
    expect(isValid<CohortQuery>('query', input)).toBe(true);
    // @ts-expect-error only registered names
    expect(() => isValid('nodeResult', input)).toThrow(/not registered/);
    expect(() => isValid('toString' as SchemaName, input)).toThrow(/not registered/);
  });

  it('assert with a pointer, the caller choosing the problem', () => {
    const input: unknown = { ...QUERY, extra: 1 };
    expect(() => assertSchema('query', input)).toThrow(ProblemError);
    const seen: string[] = [];
    expect(() =>
      assertSchema('query', input, (pointer, detail) => {
        seen.push(pointer, detail);
        return new ProblemError('ERR_INTERNAL', 500, 'x');
      }),
    ).toThrow(ProblemError);
    expect(seen).toEqual(['/extra', 'unknown key "extra"']);
    const ok: unknown = structuredClone(QUERY);
    assertSchema('query', ok);
    expectTypeOf(ok).toEqualTypeOf<CohortQuery>();
  });

  it('check one definition of a schema', () => {
    expect(matchesDefinition('query', 'IsoDate', '2024-02-29')).toBe(true);
    expect(matchesDefinition('query', 'IsoDate', '2023-02-29')).toBe(false);
    expect(() => matchesDefinition('query', 'NoSuchDef', 1)).toThrow(/not registered/);
  });

  it('keep the ajv instance and its helpers out of the package surface', () => {
    const exported = Object.keys(schemas);
    for (const name of ['ajv', 'schemaIds', 'schemaId', 'pickError', 'describeError']) {
      expect(exported).not.toContain(name);
    }
    expect(exported).toEqual(expect.arrayContaining(['isValid', 'assertSchema', 'prescan']));
  });
});
