// Generates schemas/src/generated/*.ts from schemas/json/*.schema.json.
// `--check` exits 1 when the committed types differ from the schemas, so the
// TypeScript types cannot drift from the contract.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import prettier from 'prettier';

const jsonDir = fileURLToPath(new URL('../json/', import.meta.url));
const outDir = fileURLToPath(new URL('../src/generated/', import.meta.url));

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

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const rendered = await renderTypes();
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
