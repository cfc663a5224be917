// The node's secret files: the record key (patients' keys for cell-key and
// the live source, as ingest and sync use it) and the noise key. Created once
// with random bytes and read at start, so a restart changes no key and no answer.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { nodeProblem } from '../errors.ts';

/**
 * Reads one of the node's secrets (the record key, the noise key), creating
 * 32 random bytes (mode 0600) when the file does not exist. Refuses a key
 * shorter than 16 bytes.
 * @example const noiseKey = await loadOrCreateKeyFile(join(stateDir, 'noise-key'));
 */
export async function loadOrCreateKeyFile(path: string): Promise<Uint8Array> {
  try {
    await writeFile(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
  const secret = new Uint8Array(await readFile(path));
  if (secret.byteLength < 16)
    throw nodeProblem('ERR_SOURCE_CONFIG', {
      detail: 'the record key file holds fewer than 16 bytes',
    });
  return secret;
}
