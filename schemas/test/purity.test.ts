// schemas/src is the contract both services load: data in, data out. This
// pins that down: its files import only each other, the JSON Schemas, ajv and
// node:crypto (hashing), and never touch the console, the process, the network
// or test support. Files, generators and test helpers live in scripts/ and test/.
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');
const JSON_DIR = join(ROOT, 'json');
const PACKAGES = new Set(['ajv/dist/2020.js', 'ajv-formats', 'node:crypto']);
const GLOBALS = new Set(['console', 'process', 'fetch', 'require', 'setTimeout', 'setInterval']);

async function sources(): Promise<string[]> {
  const entries = await readdir(SRC, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function allowedImport(file: string, specifier: string): boolean {
  if (!specifier.startsWith('.')) return PACKAGES.has(specifier);
  const target = resolve(dirname(file), specifier);
  const inside = (dir: string) => !relative(dir, target).startsWith('..');
  return inside(SRC) || (inside(JSON_DIR) && target.endsWith('.schema.json'));
}

/** Identifiers that name an I/O global, outside comments and strings. */
function globalsUsed(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && GLOBALS.has(node.text)) {
      const parent = node.parent;
      const isMemberName = ts.isPropertyAccessExpression(parent) && parent.name === node;
      const isKey = ts.isPropertyAssignment(parent) && parent.name === node;
      if (!isMemberName && !isKey) found.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('schemas/src', () => {
  it('has production files only: no tests and no test support', async () => {
    const files = (await sources()).map((f) => relative(SRC, f));
    expect(files.filter((f) => f.endsWith('.test.ts') || f.includes('testing'))).toEqual([]);
  });

  it('imports only itself, the JSON Schemas, ajv and node:crypto', async () => {
    const bad: string[] = [];
    for (const file of await sources()) {
      const text = await readFile(file, 'utf8');
      for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
        if (!allowedImport(file, fileName)) bad.push(`${relative(ROOT, file)}: ${fileName}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('uses no console, process, network or timers', async () => {
    const bad: string[] = [];
    for (const file of await sources()) {
      const text = await readFile(file, 'utf8');
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      for (const name of globalsUsed(source)) bad.push(`${relative(ROOT, file)}: ${name}`);
    }
    expect(bad).toEqual([]);
  });
});
