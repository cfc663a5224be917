// The node's configuration as the composition root reads it: the JSON file
// with TESSERA_NODE_* environment overrides, validated, and the disclosure
// policy it names (inline, `open`, or a file beside the configuration).
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { type LoadedConfig, applyEnv, loadConfig, parseConfigText } from '@tessera/schemas';
import { type NodePolicy, loadPolicy } from '../disclosure/policy.ts';

/** A node configuration as the node reads it: validated, every default filled in, frozen. */
export type NodeSettings = LoadedConfig<'node-config'>;

/** Reads, env-overrides and validates a node configuration file; the schema fills in its defaults. */
export async function readNodeConfig(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<NodeSettings> {
  // A name twice in one object stops start-up (threat 50).
  const raw = parseConfigText(await readFile(path, 'utf8')) as Record<string, unknown>;
  return loadConfig('node-config', applyEnv(raw, env, 'TESSERA_NODE_'));
}

/** The configuration's policy, read from its file when it names one (relative to `baseDir`). */
export async function resolvePolicy(
  policy: NodeSettings['policy'],
  baseDir: string,
  allowOpen: boolean,
): Promise<NodePolicy> {
  if (policy === 'open') return loadPolicy({ mechanism: 'none' }, { allowOpen });
  if (typeof policy === 'string') {
    const file = isAbsolute(policy) ? policy : resolve(baseDir, policy);
    return loadPolicy(parseConfigText(await readFile(file, 'utf8')), { allowOpen });
  }
  return loadPolicy(policy, { allowOpen });
}
