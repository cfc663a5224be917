// Service configuration: a JSON file plus environment overrides, validated
// once at start-up against its schema with defaults applied, then frozen.
// A bad configuration stops start-up with a message naming the key. The
// schema's `default` is the one place a default is written: what loadConfig
// returns has every such key filled in, and its type (generated from the
// schema) says so, so no reader supplies a fallback of its own.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import nodeConfigSchema from '../json/node-config.schema.json' with { type: 'json' };
import gatewayConfigSchema from '../json/gateway-config.schema.json' with { type: 'json' };
import type { NodeConfig } from './generated/node-config.ts';
import type { GatewayConfig } from './generated/gateway-config.ts';
import type { ResolvedNodeConfig } from './generated/resolved-node-config.ts';
import type { ResolvedGatewayConfig } from './generated/resolved-gateway-config.ts';
import { describeError, pickError, prescan } from './validate.ts';
import { DuplicateKeyError, parseJsonText } from './query/strict-json.ts';

export type { NodeConfig, GatewayConfig, ResolvedNodeConfig, ResolvedGatewayConfig };

/**
 * Every configuration schema by name (its file `schemas/json/<name>.schema.json`),
 * with the type loadConfig returns for it: the document with the schema's
 * defaults filled in (`src/generated/resolved-<name>.ts`).
 */
export interface ConfigTypes {
  'gateway-config': ResolvedGatewayConfig;
  'node-config': ResolvedNodeConfig;
}

export type ConfigName = keyof ConfigTypes;

/** A value with everything in it read-only, as a frozen configuration is. */
export type Frozen<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;

/** A configuration as loadConfig returns it: validated, every default filled in, frozen. */
export type LoadedConfig<N extends ConfigName> = Frozen<ConfigTypes[N]>;

/** The schema documents by name; `satisfies` keeps this and `ConfigTypes` in step. */
const CONFIG_SCHEMAS = {
  'gateway-config': gatewayConfigSchema,
  'node-config': nodeConfigSchema,
} satisfies Record<ConfigName, { readonly $id: string }>;

/** A configuration that cannot start a service; the message names the key. */
export class ConfigError extends Error {
  readonly pointer: string;
  constructor(pointer: string, detail: string) {
    super(`configuration ${pointer || '/'}: ${detail}`);
    this.name = 'ConfigError';
    this.pointer = pointer;
  }
}

/**
 * Parses a configuration file's text, refusing a name twice in one object
 * (threat 50): a reviewer would read one value and the service run with the
 * other. Invalid JSON throws JSON.parse's SyntaxError, as before.
 * @throws ConfigError with the duplicate's pointer.
 * @example const raw = parseConfigText(await readFile(path, 'utf8'));
 */
export function parseConfigText(text: string): unknown {
  try {
    return parseJsonText(text);
  } catch (err) {
    if (err instanceof DuplicateKeyError) {
      throw new ConfigError(err.pointer, 'a name appears twice in one object');
    }
    throw err;
  }
}

// Its own instance: useDefaults writes into the document, which query validation must never do.
// `discriminator` makes a oneOf tagged by `kind` (source, FHIR auth) validate only
// the branch its tag names, and fill in that branch's defaults (ajv fills in none
// inside a plain oneOf); the type generator assumes the same.
const configAjv = new Ajv2020({
  allErrors: false,
  strict: true,
  useDefaults: true,
  discriminator: true,
});
addFormats(configAjv, ['uri', 'date-time']);
for (const schema of Object.values(CONFIG_SCHEMAS)) configAjv.addSchema(schema);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a parsed configuration against the named schema, fills in the
 * schema's defaults and returns a frozen copy, typed with every default present.
 * @example const config = loadConfig('node-config', JSON.parse(text)); config.listen.port // 8081
 */
export function loadConfig<N extends ConfigName>(name: N, raw: unknown): LoadedConfig<N> {
  // Checked at run time too, for callers in plain JavaScript or with `any`.
  if (!Object.hasOwn(CONFIG_SCHEMAS, name)) {
    throw new Error(`config schema ${String(name)} is not registered`);
  }
  try {
    prescan(raw);
  } catch (err) {
    const pointer = (err as { pointer?: string }).pointer ?? '';
    throw new ConfigError(pointer, (err as Error).message);
  }
  const copy: unknown = structuredClone(raw);
  const validate = configAjv.getSchema(CONFIG_SCHEMAS[name].$id)!;
  if (!validate(copy)) {
    const best = pickError(validate.errors ?? []);
    const { pointer, detail } = best ? describeError(best) : { pointer: '', detail: 'invalid' };
    throw new ConfigError(pointer, detail);
  }
  return deepFreeze(copy as LoadedConfig<N>);
}

/**
 * Applies `PREFIX_a__b=value` environment variables onto a config object
 * (`TESSERA_NODE_LISTEN__PORT=9000` sets listen.port); numbers and booleans
 * are parsed, everything else stays a string.
 */
export function applyEnv(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
  prefix: string,
): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith(prefix)) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let target: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (typeof next !== 'object' || next === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const parsed = /^-?\d+(\.\d+)?$/.test(value)
      ? Number(value)
      : value === 'true' || value === 'false'
        ? value === 'true'
        : value;
    target[path.at(-1)!] = parsed;
  }
  return out;
}
