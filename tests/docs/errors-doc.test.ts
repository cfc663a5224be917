// docs/errors.md and the services' error catalogues must name the same codes
// with the same HTTP status: a code users can meet is always documented.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ErrorSpec, commonErrors } from '@tessera/schemas';
import { gatewayErrors } from '../../gateway/src/errors.ts';
import { nodeErrors } from '../../node-adapter/src/errors.ts';
import { fhirSourceErrors } from '../../node-adapter/src/fhir/errors.ts';
import { ingestErrors } from '../../node-adapter/src/ingest/errors.ts';
import { REPO_ROOT } from '../support/paths.ts';

/** Rows of the markdown tables under one `## heading`: code -> status. */
function documented(markdown: string, heading: string): Map<string, number> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith(heading));
  const rows = new Map<string, number>();
  for (const match of (section ?? '').matchAll(/^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    rows.set(match[1]!, Number(match[2]));
  }
  return rows;
}

function catalogued(catalogue: Record<string, ErrorSpec>): Map<string, number> {
  return new Map(Object.entries(catalogue).map(([code, spec]) => [code, spec.status]));
}

describe('docs/errors.md', () => {
  const catalogues = {
    Gateway: gatewayErrors,
    'Node adapter': { ...nodeErrors, ...ingestErrors, ...fhirSourceErrors },
  } as const;

  for (const [heading, catalogue] of Object.entries(catalogues)) {
    it(`lists exactly the ${heading.toLowerCase()} codes with their status`, async () => {
      const markdown = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
      expect(documented(markdown, heading)).toEqual(catalogued(catalogue));
    });
  }

  it('documents the shared codes in both services', () => {
    for (const catalogue of Object.values(catalogues)) {
      for (const code of Object.keys(commonErrors)) expect(catalogue).toHaveProperty(code);
    }
  });
});
