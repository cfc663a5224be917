// The runbooks in docs/operations/ are followed by people typing what they
// say: every configuration they show is one the services accept, and the
// reference page links every runbook.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '@tessera/schemas';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.ts';

const DIR = join(REPO_ROOT, 'docs/operations');

async function runbooks(): Promise<{ name: string; text: string }[]> {
  const names = (await readdir(DIR)).filter((f) => f.endsWith('.md')).sort();
  return Promise.all(
    names.map(async (name) => ({ name, text: await readFile(join(DIR, name), 'utf8') })),
  );
}

/** The ```json blocks of a Markdown text, parsed where they are whole JSON values. */
function jsonBlocks(text: string): unknown[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].flatMap((m) => {
    try {
      return [JSON.parse(m[1]!) as unknown];
    } catch {
      return [];
    }
  });
}

describe('docs/operations', () => {
  it('shows only node configurations the node accepts, the SMART auth block included', async () => {
    const nodeGuide = await readFile(join(DIR, 'node-adapter.md'), 'utf8');
    const [config] = jsonBlocks(nodeGuide) as Record<string, Record<string, unknown>>[];
    expect(config?.nodeId).toBe('lombardia');
    const loaded = loadConfig('node-config', config);
    expect(loaded.sync?.storePath).toBe((config!.source as { path: string }).path);
    // The auth snippet is a fragment: `"auth": {...}`; it goes into `sync`.
    const fragment = /```json\n("auth": \{[\s\S]*?\})\n```/.exec(nodeGuide)?.[1];
    expect(fragment).toBeDefined();
    const { auth } = JSON.parse(`{${fragment!}}`) as { auth: unknown };
    const withAuth = loadConfig('node-config', { ...config, sync: { ...config!.sync, auth } });
    expect(withAuth.sync?.auth).toMatchObject({ kind: 'smart-backend', kid: 'tessera-1' });
  });

  it('shows, in the reference page, a complete gateway configuration the gateway accepts', async () => {
    const reference = await readFile(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    const configs = jsonBlocks(reference).filter(
      (b): b is Record<string, unknown> => typeof b === 'object' && b !== null && 'publicUrl' in b,
    );
    expect(configs).toHaveLength(1);
    const loaded = loadConfig('gateway-config', configs[0]);
    expect(loaded.nodes.map((n) => n.id)).toEqual(['lombardia', 'galicia']);
  });

  it('is linked, every page of it, from the reference page', async () => {
    const reference = await readFile(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    const pages = await runbooks();
    expect(pages.length).toBeGreaterThanOrEqual(8);
    for (const { name } of pages) expect(reference).toContain(`(operations/${name})`);
  });

  it('links only pages that exist', async () => {
    const existing = new Set(
      (await readdir(join(REPO_ROOT, 'docs'))).concat(
        (await readdir(DIR)).map((n) => `operations/${n}`),
      ),
    );
    for (const { name, text } of await runbooks()) {
      for (const [, target] of text.matchAll(/\]\(([^)#:]+\.md)(#[^)]*)?\)/g)) {
        const path = target!.startsWith('../') ? target!.slice(3) : `operations/${target}`;
        expect(existing, `${name} links ${target}`).toContain(path);
      }
    }
  });
});
