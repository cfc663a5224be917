// Generates schemas/src/generated/*.ts: the types from schemas/json/*.schema.json;
// for each configuration schema, a resolved type too (`resolved-<name>.ts`: the
// document after its schema's defaults are filled in, every key with a default
// required); and examples.ts, the example queries (schemas/fixtures/queries/examples.json
// and the fixtures it names) as data, so nothing reads the fixtures at run time.
// `--check` exits 1 when the committed files differ from their sources, so the
// TypeScript types and the examples cannot drift from the contract and fixtures.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import prettier from 'prettier';

const jsonDir = fileURLToPath(new URL('../json/', import.meta.url));
const outDir = fileURLToPath(new URL('../src/generated/', import.meta.url));
const queriesDir = fileURLToPath(new URL('../fixtures/queries/', import.meta.url));

type JsonSchema = Parameters<typeof compile>[0];

/**
 * The schemas whose documents are read with ajv's `useDefaults` (configuration
 * by loadConfig, the policy by loadPolicy): each also gets a resolved type.
 */
export const RESOLVED_SCHEMAS: readonly string[] = [
  'gateway-config.schema.json',
  'node-config.schema.json',
  'node-policy.schema.json',
];

/** Keywords whose subschemas ajv validates with defaults applied (no composite rule). */
const APPLIED_KEYWORDS = ['items', 'additionalProperties', 'allOf'] as const;
const APPLIED_MAPS = ['properties', 'patternProperties'] as const;
/** Keywords whose subschemas ajv validates as a composite rule: it fills no defaults there. */
const UNAPPLIED_KEYWORDS = ['not', 'if', 'then', 'else', 'contains', 'propertyNames'] as const;
const UNAPPLIED_LISTS = ['anyOf', 'prefixItems'] as const;

function isSchemaObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of `schema` as ajv's `useDefaults` leaves a valid document: every
 * property with a `default` is added to its object's `required`, wherever ajv
 * applies defaults (properties, items, additionalProperties, allOf, a `oneOf`
 * branch chosen by a `discriminator`, and the `$defs` those reach through
 * `$ref`). Inside anyOf, a plain oneOf, not and if/then/else ajv fills in
 * nothing, so keys there keep their optionality. The title and every
 * definition's name get a `Resolved` prefix, so both types can be imported
 * side by side.
 * @example resolvedSchema({ title: 'C', properties: { a: { default: 1 } } })
 *   // { title: 'ResolvedC', properties: { a: { default: 1 } }, required: ['a'] }
 */
export function resolvedSchema(schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema) as Record<string, unknown>;
  const defs = isSchemaObject(copy.$defs) ? copy.$defs : {};
  /** How each definition is reached: with defaults applied, or not. */
  const reached = new Map<string, boolean>();

  const walk = (node: unknown, applied: boolean, at: string): void => {
    if (!isSchemaObject(node)) return;
    const properties = isSchemaObject(node.properties) ? node.properties : undefined;
    if (applied && properties !== undefined) {
      const required = new Set(Array.isArray(node.required) ? (node.required as string[]) : []);
      for (const [key, child] of Object.entries(properties)) {
        if (isSchemaObject(child) && child.default !== undefined) required.add(key);
      }
      if (required.size > 0) node.required = [...required];
    }
    for (const keyword of APPLIED_MAPS) {
      const map = node[keyword];
      if (isSchemaObject(map)) {
        for (const [key, child] of Object.entries(map))
          walk(child, applied, `${at}/${keyword}/${key}`);
      }
    }
    for (const keyword of APPLIED_KEYWORDS) {
      const sub = node[keyword];
      if (Array.isArray(sub)) sub.forEach((s, i) => walk(s, applied, `${at}/${keyword}/${i}`));
      else walk(sub, applied, `${at}/${keyword}`);
    }
    for (const keyword of UNAPPLIED_KEYWORDS) walk(node[keyword], false, `${at}/${keyword}`);
    for (const keyword of UNAPPLIED_LISTS) {
      const list = node[keyword];
      if (Array.isArray(list)) list.forEach((s, i) => walk(s, false, `${at}/${keyword}/${i}`));
    }
    if (Array.isArray(node.oneOf)) {
      // ajv (option `discriminator`) validates only the branch the tag names, with defaults.
      const chosen = applied && isSchemaObject(node.discriminator);
      node.oneOf.forEach((s, i) => walk(s, chosen, `${at}/oneOf/${i}`));
    }
    if (typeof node.$ref === 'string') {
      const match = /^#\/\$defs\/([^/]+)$/.exec(node.$ref);
      if (!match) throw new Error(`${at}: only #/$defs/<name> references are supported`);
      const name = match[1]!;
      const seen = reached.get(name);
      if (seen !== undefined && seen !== applied) {
        // One definition cannot be both resolved and not in one generated type.
        throw new Error(`${at}: $defs/${name} is reached both with and without defaults applied`);
      }
      if (seen === undefined) {
        reached.set(name, applied);
        walk(defs[name], applied, `#/$defs/${name}`);
      }
    }
  };

  walk(copy, true, '#');
  for (const [name, def] of Object.entries(defs)) {
    if (!isSchemaObject(def)) continue;
    def.title = `Resolved${typeof def.title === 'string' ? def.title : name}`;
  }
  copy.title = `Resolved${typeof copy.title === 'string' ? copy.title : ''}`;
  return copy;
}

/**
 * A copy without the `default` beside each `$ref` (`{ "$ref": ..., "default": ... }`):
 * json-schema-to-typescript would otherwise declare the referenced type
 * again, as `FhirAuth1`, for every such place. A default changes no type.
 */
function withBareRefs(schema: JsonSchema): JsonSchema {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!isSchemaObject(node)) return node;
    const keys = Object.keys(node);
    if (typeof node.$ref === 'string' && keys.every((k) => k === '$ref' || k === 'default')) {
      return { $ref: node.$ref };
    }
    // Values that hold data, not schemas, are copied as they are.
    const data = new Set(['default', 'const', 'enum', 'examples']);
    return Object.fromEntries(keys.map((k) => [k, data.has(k) ? node[k] : strip(node[k])]));
  };
  return strip(schema) as JsonSchema;
}

async function renderSchema(
  schema: JsonSchema,
  name: string,
  banner: string,
  prettierConfig: prettier.Options | null,
): Promise<string> {
  const ts = await compile(withBareRefs(schema), name, {
    cwd: jsonDir,
    bannerComment: banner,
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    format: false,
    maxItems: 1,
  });
  return prettier.format(ts, { ...prettierConfig, parser: 'typescript' });
}

/** Renders every schema's TypeScript types, and the resolved ones: file name -> source. */
export async function renderTypes(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const files = (await readdir(jsonDir)).filter((f) => f.endsWith('.schema.json')).sort();
  const prettierConfig = await prettier.resolveConfig(outDir + 'x.ts');
  for (const file of files) {
    const schema = JSON.parse(await readFile(jsonDir + file, 'utf8')) as JsonSchema;
    const base = file.replace('.schema.json', '');
    out.set(
      `${base}.ts`,
      await renderSchema(
        schema,
        schema.title ?? file,
        `// Generated from schemas/json/${file} by \`npm run generate:types\`. Do not edit.`,
        prettierConfig,
      ),
    );
    if (!RESOLVED_SCHEMAS.includes(file)) continue;
    const resolved = resolvedSchema(schema);
    out.set(
      `resolved-${base}.ts`,
      await renderSchema(
        resolved,
        resolved.title ?? file,
        `// Generated from schemas/json/${file} by \`npm run generate:types\`. Do not edit.\n` +
          `// The document as read with the schema's defaults filled in: every key with a default is present.`,
        prettierConfig,
      ),
    );
  }
  for (const file of RESOLVED_SCHEMAS) {
    if (!files.includes(file)) throw new Error(`RESOLVED_SCHEMAS names a missing schema: ${file}`);
  }
  return out;
}

/** One entry of fixtures/queries/examples.json. */
interface ExampleEntry {
  /** Path of the query, relative to fixtures/queries/ (a file in valid/). */
  readonly fixture: string;
  readonly title: string;
  readonly description: string;
}

function isExampleEntry(value: unknown): value is ExampleEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { fixture, title, description, ...rest } = value as Record<string, unknown>;
  return (
    typeof fixture === 'string' &&
    fixture.startsWith('valid/') &&
    typeof title === 'string' &&
    title.length > 0 &&
    typeof description === 'string' &&
    description.length > 0 &&
    Object.keys(rest).length === 0
  );
}

/**
 * Renders examples.ts: the example queries the demo and the web page offer,
 * inlined and typed, so tsc checks every one against `CohortQuery`.
 */
export async function renderExamples(): Promise<string> {
  const entries: unknown = JSON.parse(await readFile(queriesDir + 'examples.json', 'utf8'));
  if (!Array.isArray(entries) || !entries.every(isExampleEntry)) {
    throw new Error('fixtures/queries/examples.json: expected [{ fixture, title, description }]');
  }
  const examples = [];
  for (const { fixture, title, description } of entries) {
    const query: unknown = JSON.parse(await readFile(queriesDir + fixture, 'utf8'));
    examples.push({ id: basename(fixture, '.json'), title, description, query });
  }
  const source = `// Generated from schemas/fixtures/queries/examples.json and the fixtures it names by \`npm run generate:types\`. Do not edit.
import type { CohortQuery } from './query.ts';

/** An example query as the demo and the web page offer it. */
export interface ExampleQuery {
  /** The fixture's file name without \`.json\` (schemas/fixtures/queries/valid/). */
  readonly id: string;
  /** A short name, for a menu. */
  readonly title: string;
  /** One sentence that names the codes, for a heading. */
  readonly description: string;
  readonly query: CohortQuery;
}

export const EXAMPLE_QUERIES: readonly ExampleQuery[] = ${JSON.stringify(examples)};
`;
  const prettierConfig = await prettier.resolveConfig(outDir + 'x.ts');
  return prettier.format(source, { ...prettierConfig, parser: 'typescript' });
}

/** Every generated file: file name -> source. */
export async function renderGenerated(): Promise<Map<string, string>> {
  const out = await renderTypes();
  out.set('examples.ts', await renderExamples());
  return out;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const rendered = await renderGenerated();
  let stale = 0;
  for (const [name, source] of rendered) {
    const current = await readFile(outDir + name, 'utf8').catch(() => '');
    if (current === source) continue;
    if (check) {
      console.error(`stale: schemas/src/generated/${name}`);
      stale += 1;
    } else {
      await writeFile(outDir + name, source);
      console.log(`wrote schemas/src/generated/${name}`);
    }
  }
  if (stale > 0) process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
