// Generates schemas/src/generated/*.ts: the types from schemas/json/*.schema.json,
// and examples.ts, the example queries (schemas/fixtures/queries/examples.json
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

/** Renders every schema's TypeScript types: file name -> source. */
export async function renderTypes(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const files = (await readdir(jsonDir)).filter((f) => f.endsWith('.schema.json')).sort();
  const prettierConfig = await prettier.resolveConfig(outDir + 'x.ts');
  for (const file of files) {
    const schema = JSON.parse(await readFile(jsonDir + file, 'utf8')) as Parameters<
      typeof compile
    >[0];
    const ts = await compile(schema, schema.title ?? file, {
      cwd: jsonDir,
      bannerComment: `// Generated from schemas/json/${file} by \`npm run generate:types\`. Do not edit.`,
      additionalProperties: false,
      unreachableDefinitions: true,
      strictIndexSignatures: true,
      format: false,
      maxItems: 1,
    });
    const formatted = await prettier.format(ts, { ...prettierConfig, parser: 'typescript' });
    out.set(file.replace('.schema.json', '.ts'), formatted);
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
