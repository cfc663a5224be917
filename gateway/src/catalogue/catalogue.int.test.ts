// The federated catalogue against real HTTP servers standing in for nodes:
// where each entry is fetched from, which are kept, and which are refused.
import { describe, expect, it } from 'vitest';
import type { CatalogueEntry } from '@tessera/schemas';
import {
  catalogueEntryOf as entry,
  sendJson,
  useTestNodes,
} from '../../test/support/test-node-server.ts';
import { createFederatedCatalogue } from './catalogue.ts';

const { start: node, client } = useTestNodes();

const MAX_BYTES = 64 * 1024;

function catalogueOf(list: { id: string; url: string }[], maxBytes = MAX_BYTES, ttlSec = 0) {
  return createFederatedCatalogue(list, {
    client: client({ nodes: list }),
    ttlSec,
    timeoutMs: 5_000,
    maxBytes,
  });
}

describe('federated catalogue', () => {
  it('keeps each valid entry that describes its own node, and drops the others', async () => {
    const alpha = await node((_req, res) => sendJson(res, 200, entry('alpha')));
    const impostor = await node((_req, res) => sendJson(res, 200, entry('alpha')));
    const broken = await node((_req, res) => sendJson(res, 200, { node: 'gamma' }));
    const catalogue = catalogueOf([
      { id: 'alpha', url: alpha.url },
      { id: 'beta', url: impostor.url },
      { id: 'gamma', url: broken.url },
    ]);
    expect(await catalogue.entries()).toEqual([entry('alpha')]);
  });

  it('fetches a node with a base path at <base>/v1/catalogue', async () => {
    const alpha = await node((req, res) =>
      req.url === '/region/x/v1/catalogue'
        ? sendJson(res, 200, entry('alpha'))
        : sendJson(res, 404, { code: 'ERR_NOT_FOUND' }),
    );
    const catalogue = catalogueOf([{ id: 'alpha', url: `${alpha.url}/region/x/` }]);
    expect(await catalogue.entries()).toEqual([entry('alpha')]);
    expect(alpha.paths).toEqual(['/region/x/v1/catalogue']);
  });

  it('refuses an entry larger than the cap, and keeps the one it had', async () => {
    // Valid, and over the cap only by its many codes.
    const large: CatalogueEntry = {
      ...entry('alpha'),
      dataVersion: 'v2',
      codes: Array.from({ length: 2_000 }, (_, i) => ({
        kind: 'condition' as const,
        system: 'http://hl7.org/fhir/sid/icd-10',
        code: `X${i}`,
        display: 'A condition with a long enough name',
        patients: 20,
      })),
    };
    expect(Buffer.byteLength(JSON.stringify(large))).toBeGreaterThan(MAX_BYTES);
    let current = entry('alpha');
    const alpha = await node((_req, res) => sendJson(res, 200, current, { chunked: true }));
    const catalogue = catalogueOf([{ id: 'alpha', url: alpha.url }]);
    expect(await catalogue.entries()).toEqual([entry('alpha')]);
    current = large;
    expect(await catalogue.entries()).toEqual([entry('alpha')]);
    expect(alpha.paths).toHaveLength(2);
    // The same entry under a cap it fits is taken: it was refused for its size alone.
    const roomy = catalogueOf([{ id: 'alpha', url: alpha.url }], 16 * MAX_BYTES);
    expect(await roomy.entries()).toEqual([large]);
  });

  it('asks a node that could not be read no sooner than one that could, and once for many readers', async () => {
    // Every finished query reads the catalogue (for its warnings): a node
    // without one must not be asked once per query, nor once per reader.
    const silent = await node((_req, res) => sendJson(res, 404, { code: 'ERR_NOT_FOUND' }));
    const alpha = await node((_req, res) => sendJson(res, 200, entry('alpha')));
    const catalogue = catalogueOf(
      [
        { id: 'alpha', url: alpha.url },
        { id: 'beta', url: silent.url },
      ],
      MAX_BYTES,
      60,
    );
    const reads = await Promise.all(Array.from({ length: 5 }, () => catalogue.entries()));
    for (const read of reads) expect(read).toEqual([entry('alpha')]);
    expect(await catalogue.entries()).toEqual([entry('alpha')]);
    expect(alpha.paths).toHaveLength(1);
    expect(silent.paths).toHaveLength(1);
  });
});
