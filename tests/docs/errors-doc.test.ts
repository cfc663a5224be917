// docs/errors.md and the services' error catalogues must name the same codes
// with the same HTTP status and title: a code users can meet is always
// documented, as it reads.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ErrorSpec, commonErrors } from '@tessera/schemas';
import { NODE_REFUSAL_CODES, gatewayErrors } from '@tessera/gateway';
import { nodeErrors } from '@tessera/node-adapter';
import { REPO_ROOT } from '../support/paths.ts';

/** Rows of the markdown tables under one `## heading`: code -> status and title. */
function documented(markdown: string, heading: string): Map<string, ErrorSpec> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith(heading));
  const rows = new Map<string, ErrorSpec>();
  const row = /^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*([^|]*?)\s*\|/gm;
  for (const match of (section ?? '').matchAll(row)) {
    rows.set(match[1]!, { status: Number(match[2]), title: match[3]! });
  }
  return rows;
}

function catalogued(catalogue: Record<string, ErrorSpec>): Map<string, ErrorSpec> {
  return new Map(
    Object.entries(catalogue).map(([code, { status, title }]) => [code, { status, title }]),
  );
}

describe('docs/errors.md', () => {
  const catalogues = {
    Gateway: gatewayErrors,
    'Node adapter': nodeErrors,
  } as const;

  for (const [heading, catalogue] of Object.entries(catalogues)) {
    it(`lists exactly the ${heading.toLowerCase()} codes with their status and title`, async () => {
      const markdown = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
      expect(documented(markdown, heading)).toEqual(catalogued(catalogue));
    });
  }

  it('lists exactly the warning codes a merged answer can carry', async () => {
    const markdown = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
    const section = markdown.split(/^## /m).find((s) => s.startsWith('Warnings')) ?? '';
    const rows = [...section.matchAll(/^\|\s*`(WARN_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]);
    const schema = JSON.parse(
      await readFile(join(REPO_ROOT, 'schemas/json/merged-result.schema.json'), 'utf8'),
    ) as { $defs: { Warning: { properties: { code: { enum: string[] } } } } };
    expect(rows.sort()).toEqual([...schema.$defs.Warning.properties.code.enum].sort());
  });

  it('documents the shared codes in both services', () => {
    for (const catalogue of Object.values(catalogues)) {
      for (const code of Object.keys(commonErrors)) expect(catalogue).toHaveProperty(code);
    }
  });

  it('lets the gateway pass on exactly the node codes a refusal (4xx) of an evaluation carries', async () => {
    const markdown = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
    // Ingest codes are printed by the node's command line, never sent to the gateway.
    const refusals = [...documented(markdown, 'Node adapter')]
      .filter(
        ([code, { status }]) => status >= 400 && status < 500 && !code.startsWith('ERR_INGEST_'),
      )
      .map(([code]) => code);
    expect([...NODE_REFUSAL_CODES].sort()).toEqual(refusals.sort());
    for (const code of NODE_REFUSAL_CODES) expect(nodeErrors).toHaveProperty(code);
  });
});
