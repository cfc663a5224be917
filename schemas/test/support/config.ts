// Configuration for tests that build a service's parts (fan-out, registry,
// node client, live source) directly: the values a service gets from its
// schema's defaults, read through loadConfig, so no test writes a default of
// its own and a changed default reaches the tests too.
import { type ConfigName, type LoadedConfig, loadConfig } from '../../src/config.ts';

/** For each configuration schema, a smallest valid document: only the keys it requires. */
const MINIMAL: { readonly [N in ConfigName]: Readonly<Record<string, unknown>> } = {
  'gateway-config': {
    publicUrl: 'https://gateway.test',
    oidc: { issuer: 'https://idp.test', audience: 'urn:tessera:gateway' },
    nodes: [{ id: 'node-a', url: 'https://node-a.test' }],
    projects: { 'project-a': { nodes: ['node-a'] } },
  },
  'node-config': {
    nodeId: 'node-a',
    source: { kind: 'duckdb', path: 'store.duckdb' },
    gateway: { issuer: 'https://gateway.test' },
    projects: ['project-a'],
  },
};

/**
 * A configuration with every default of its schema filled in: a smallest
 * valid document, with `keys` in place of its top-level keys, through loadConfig.
 * @example const { fanout } = configDefaults('gateway-config'); fanout.maxAttempts // 3
 */
export function configDefaults<N extends ConfigName>(
  name: N,
  keys: Readonly<Record<string, unknown>> = {},
): LoadedConfig<N> {
  return loadConfig(name, { ...MINIMAL[name], ...keys });
}

/** The live FHIR source's settings (node-config `source` of kind `fhir`) with their schema defaults. */
export function liveSourceDefaults(
  baseUrl = 'https://fhir.test/r4',
): Extract<LoadedConfig<'node-config'>['source'], { kind: 'fhir' }> {
  const { source } = configDefaults('node-config', { source: { kind: 'fhir', baseUrl } });
  if (source.kind !== 'fhir') throw new Error('unreachable: the source is the fhir one');
  return source;
}
