// Every word the page shows is in every language's catalogue, and every key
// the sources name is in the English one (the fallback).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import de from './de.json';
import en from './en.json';
import es from './es.json';
import it_ from './it.json';
import pl from './pl.json';

function keys(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    typeof v === 'object' && v !== null
      ? keys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe("the page's message catalogues", () => {
  const english = keys(en).sort();

  it.each([
    ['it', it_],
    ['es', es],
    ['de', de],
    ['pl', pl],
  ])('%s has every English key and no other', (_code, catalogue) => {
    expect(keys(catalogue).sort()).toEqual(english);
  });

  it('hold every key the page names literally', () => {
    const named = new Set<string>();
    for (const file of sources(join(import.meta.dirname, '..'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bt\('([a-zA-Z]+\.[a-zA-Z.]+)'/g)) {
        named.add(match[1]!);
      }
    }
    expect(named.size).toBeGreaterThan(100);
    expect([...named].filter((k) => !english.includes(k))).toEqual([]);
  });

  it('keep the placeholders of each message in every language', () => {
    const placeholders = (text: string): string[] =>
      [...text.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!).sort();
    const lookup = (tree: Record<string, unknown>, key: string): string =>
      key
        .split('.')
        .reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], tree) as string;
    for (const catalogue of [it_, es, de, pl]) {
      for (const key of english) {
        expect(placeholders(lookup(catalogue, key)), key).toEqual(placeholders(lookup(en, key)));
      }
    }
  });
});
