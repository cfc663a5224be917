// `tessera-node serve` as an operator starts it: a child process. A store that
// is not there stops start-up with one line on stderr, no stack trace.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/tessera-node.js', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('serve refuses a missing store with one line naming the path and what to run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-serve-'));
  dirs.push(dir);
  const store = join(dir, 'region.duckdb');
  const config = join(dir, 'node.json');
  await writeFile(
    config,
    JSON.stringify({
      nodeId: 'region',
      listen: { port: 0 },
      source: { kind: 'duckdb', path: store },
      stateDir: join(dir, 'state'),
      gateway: { issuer: 'http://gateway.invalid', jwksUrl: 'http://gateway.invalid/jwks.json' },
      projects: ['p'],
    }),
  );
  const run = promisify(execFile)(process.execPath, [BIN, 'serve', '--config', config]);
  const failed = (await run.then(
    () => undefined,
    (err: unknown) => err,
  )) as { code: number; stderr: string } | undefined;
  expect(failed?.code).toBe(1);
  expect(failed?.stderr).toBe(
    `tessera-node: ${store} does not exist: create it with "tessera-node ingest --source <export> --db ${store}" or "tessera-node sync --config <file>"\n`,
  );
});
