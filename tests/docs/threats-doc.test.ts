// docs/threats.md is the list the code cites ("threat 8", "threats 15-18,
// 20"): every number cited anywhere in the source exists there, the list is
// numbered without gaps, and every file it names as pinning a threat exists.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.ts';

const SOURCE_ROOTS = ['gateway', 'node-adapter', 'schemas', 'tests', 'deploy'];
const SKIP = new Set(['node_modules', '.data', 'generated']);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|js)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** The numbers a citation names: "threat 8", "threats 1-6", "threats 25, 26 and 31". */
export function citedNumbers(text: string): number[] {
  const numbers: number[] = [];
  const citation = /\bthreats? (\d+(?:\s*(?:[-–]|,|and)\s*\d+)*)/gi;
  for (const [, list] of text.matchAll(citation)) {
    for (const part of list!.split(/\s*(?:,|and)\s*/)) {
      const [from, to] = part.split(/\s*[-–]\s*/).map(Number);
      for (let n = from!; n <= (to ?? from)!; n++) numbers.push(n);
    }
  }
  return numbers;
}

/** Rows of the doc's tables: threat number -> the row's text. */
function listed(markdown: string): Map<number, string> {
  const rows = new Map<number, string>();
  for (const match of markdown.matchAll(/^\|\s*(\d+)\s*\|(.*)$/gm)) {
    rows.set(Number(match[1]), match[2]!);
  }
  return rows;
}

describe('docs/threats.md', () => {
  it('reads citations as the code writes them', () => {
    expect(citedNumbers('threat 8; Threats 15-18, 20; threats 25, 26 and 31')).toEqual([
      8, 15, 16, 17, 18, 20, 25, 26, 31,
    ]);
  });

  it('lists every threat the code cites, numbered without gaps', async () => {
    const rows = listed(await readFile(join(REPO_ROOT, 'docs/threats.md'), 'utf8'));
    const numbers = [...rows.keys()].sort((a, b) => a - b);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    const missing: string[] = [];
    for (const root of SOURCE_ROOTS) {
      for (const file of await sourceFiles(join(REPO_ROOT, root))) {
        for (const n of citedNumbers(await readFile(file, 'utf8'))) {
          if (!rows.has(n)) missing.push(`${relative(REPO_ROOT, file)}: threat ${n}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('names only test files that exist', async () => {
    const markdown = await readFile(join(REPO_ROOT, 'docs/threats.md'), 'utf8');
    const named = [...markdown.matchAll(/`((?:gateway|node-adapter|schemas|tests)\/[^`\s]+)`/g)];
    expect(named.length).toBeGreaterThan(10);
    const absent: string[] = [];
    for (const [, path] of named) {
      await stat(join(REPO_ROOT, path!)).catch(() => absent.push(path!));
    }
    expect(absent).toEqual([]);
  });
});
