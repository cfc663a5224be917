// loadConfig fills in every default its schema states, and the resolved types
// (generated from a copy of the schema with those keys required) claim no key
// that loading can leave out: a loaded document validates against the copy.
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { RESOLVED_SCHEMAS, resolvedSchema } from '../scripts/generate-types.ts';
import { configDefaults } from './support/config.ts';

type Schema = Parameters<typeof resolvedSchema>[0];

async function schemaFile(file: string): Promise<Schema> {
  return JSON.parse(await readFile(new URL(`../json/${file}`, import.meta.url), 'utf8')) as Schema;
}

/** Validates against the resolved copy of a schema, with no defaults applied. */
async function resolvedValidator(file: string) {
  const ajv = new Ajv2020({ strict: true, discriminator: true, allErrors: true });
  addFormats(ajv, ['uri', 'date-time']);
  return ajv.compile(resolvedSchema(await schemaFile(file)) as Record<string, unknown>);
}

describe('loadConfig', () => {
  it('returns every default of the node configuration, nested ones and the live source’s included', async () => {
    const valid = await resolvedValidator('node-config.schema.json');
    const documents = [
      configDefaults('node-config'),
      configDefaults('node-config', {
        source: {
          kind: 'fhir',
          baseUrl: 'https://fhir.test/r4',
          auth: {
            kind: 'smart-backend',
            tokenUrl: 'https://fhir.test/token',
            clientId: 'node',
            privateKeyFile: 'key.json',
          },
        },
        sync: { baseUrl: 'https://fhir.test/r4', storePath: 'store.duckdb' },
      }),
    ];
    for (const config of documents) {
      expect(valid(config), JSON.stringify(valid.errors)).toBe(true);
    }
    const live = documents[1]!;
    expect(live.source).toMatchObject({ concurrency: 4, timeoutMs: 30_000, pageSize: 500 });
    expect(live.source.kind === 'fhir' && live.source.auth).toMatchObject({
      scope: 'system/*.read',
    });
    expect(live.sync).toMatchObject({ auth: { kind: 'none' }, mode: 'auto', fullEveryHours: 24 });
  });

  it('returns every default of the gateway configuration, per node and per project too', async () => {
    const valid = await resolvedValidator('gateway-config.schema.json');
    const config = configDefaults('gateway-config');
    expect(valid(config), JSON.stringify(valid.errors)).toBe(true);
    expect(config.nodes[0].connections).toBe(8);
    expect(config.projects['project-a']?.maxStrata).toBe(200);
    expect(config.fanout.retryBudgetReserve).toBe(10);
  });

  it('returns a frozen copy and leaves the input alone', () => {
    const raw = {
      nodeId: 'n',
      source: { kind: 'duckdb', path: 'x' },
      gateway: { issuer: 'g' },
      projects: [],
    };
    const config = loadConfig('node-config', raw);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(raw).not.toHaveProperty('limits');
  });

  it('names the key of a source whose kind is missing or unknown', () => {
    const base = { nodeId: 'n', gateway: { issuer: 'g' }, projects: [] };
    const pointerOf = (source: unknown): string | undefined => {
      try {
        loadConfig('node-config', { ...base, source });
      } catch (err) {
        if (err instanceof ConfigError) return err.pointer;
        throw err;
      }
      return undefined;
    };
    expect(pointerOf({ kind: 'ftp', path: 'x' })).toBe('/source/kind');
    expect(pointerOf({ path: 'x' })).toBe('/source/kind');
    expect(pointerOf({ kind: 'duckdb', path: 'x', concurrency: 2 })).toBe('/source/concurrency');
  });

  it('refuses a schema name it does not know', () => {
    expect(() => loadConfig('query' as 'node-config', {})).toThrow(/not registered/);
  });
});

describe('resolvedSchema', () => {
  it('requires keys with a default where ajv fills them in, and nowhere else', () => {
    const resolved = resolvedSchema({
      type: 'object',
      properties: {
        a: { type: 'integer', default: 1 },
        b: { type: 'integer' },
        tagged: {
          discriminator: { propertyName: 'kind' },
          oneOf: [
            {
              type: 'object',
              required: ['kind'],
              properties: { kind: { const: 'x' }, c: { type: 'integer', default: 2 } },
            },
          ],
        },
        plain: {
          oneOf: [{ type: 'object', properties: { d: { type: 'integer', default: 3 } } }],
        },
        list: { type: 'array', items: { $ref: '#/$defs/Item' } },
      },
      $defs: { Item: { type: 'object', properties: { e: { type: 'string', default: '' } } } },
    }) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(resolved.required).toEqual(['a']);
    expect(resolved.properties.tagged.oneOf[0].required).toEqual(['kind', 'c']);
    expect(resolved.properties.plain.oneOf[0].required).toBeUndefined();
    expect(resolved.$defs.Item.required).toEqual(['e']);
    expect(resolved.$defs.Item.title).toBe('ResolvedItem');
  });

  it('refuses a definition reached both with and without defaults applied', () => {
    expect(() =>
      resolvedSchema({
        properties: {
          a: { $ref: '#/$defs/D' },
          b: { not: { $ref: '#/$defs/D' } },
        },
        $defs: { D: { properties: { x: { default: 1 } } } },
      }),
    ).toThrow(/both with and without/);
  });

  it('covers every configuration schema', () => {
    expect([...RESOLVED_SCHEMAS].sort()).toEqual([
      'gateway-config.schema.json',
      'node-config.schema.json',
      'node-policy.schema.json',
    ]);
  });
});
