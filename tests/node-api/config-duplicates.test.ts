// Threat 50 for configuration files: a name twice in one object (two
// `projects`, two `policy` blocks) would let whoever reviews the file read the
// first while the service runs with the second. Start-up refuses the file,
// naming the duplicate by its pointer.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGatewayConfig } from '@tessera/gateway';
import { readNodeConfig } from '@tessera/node-adapter';
import { REPO_ROOT } from '../support/paths.ts';

const CONFIGS = join(REPO_ROOT, 'deploy/compose/config');

describe('configuration files with a name twice in one object (threat 50)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The file's text with `name: value` added again at the end of its top-level object. */
  async function withDuplicate(file: string, name: string, value: unknown): Promise<string> {
    const text = (await readFile(join(CONFIGS, file), 'utf8')).trimEnd();
    const path = join(dir, `dup-${file}`);
    await writeFile(path, `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(value)}}`);
    return path;
  }

  it('the node refuses to start, with the pointer', async () => {
    const ok = await readNodeConfig(join(CONFIGS, 'node-lombardia.json'), {});
    const path = await withDuplicate('node-lombardia.json', 'projects', ['marketing']);
    await expect(readNodeConfig(path, {})).rejects.toMatchObject({
      name: 'ConfigError',
      pointer: '/projects',
    });
    expect(ok.projects).not.toContain('marketing');
  });

  it('the gateway refuses to start, with the pointer', async () => {
    const original = JSON.parse(await readFile(join(CONFIGS, 'gateway.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const path = await withDuplicate('gateway.json', 'projects', original.projects);
    await expect(readGatewayConfig(path, {})).rejects.toMatchObject({
      name: 'ConfigError',
      pointer: '/projects',
    });
  });
});
