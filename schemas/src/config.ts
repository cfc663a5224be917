// Service configuration: a JSON file plus environment overrides, validated
// once at start-up against its schema with defaults applied, then frozen.
// A bad configuration stops start-up with a message naming the key.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import nodeConfigSchema from '../json/node-config.schema.json' with { type: 'json' };
import gatewayConfigSchema from '../json/gateway-config.schema.json' with { type: 'json' };
import type { NodeConfig } from './generated/node-config.ts';
import type { GatewayConfig } from './generated/gateway-config.ts';
import { describeError, pickError, prescan } from './validate.ts';

export type { NodeConfig, GatewayConfig };

/** A configuration that cannot start a service; the message names the key. */
export class ConfigError extends Error {
  readonly pointer: string;
  constructor(pointer: string, detail: string) {
    super(`configuration ${pointer || '/'}: ${detail}`);
    this.name = 'ConfigError';
    this.pointer = pointer;
  }
}

// Its own instance: useDefaults writes into the document, which query validation must never do.
const configAjv = new Ajv2020({ allErrors: false, strict: true, useDefaults: true });
addFormats(configAjv, ['uri', 'date-time']);
configAjv.addSchema(nodeConfigSchema);
configAjv.addSchema(gatewayConfigSchema);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a parsed configuration against a registered schema, applies the
 * schema's defaults and returns a frozen copy.
 * @example const config = loadConfig<NodeConfig>(nodeConfigSchemaId, JSON.parse(text));
 */
export function loadConfig<T>(schemaId: string, raw: unknown): Readonly<T> {
  try {
    prescan(raw);
  } catch (err) {
    const pointer = (err as { pointer?: string }).pointer ?? '';
    throw new ConfigError(pointer, (err as Error).message);
  }
  const copy: unknown = structuredClone(raw);
  const validate = configAjv.getSchema<T>(schemaId);
  if (!validate) throw new Error(`config schema ${schemaId} is not registered`);
  if (!validate(copy)) {
    const best = pickError(validate.errors ?? []);
    const { pointer, detail } = best ? describeError(best) : { pointer: '', detail: 'invalid' };
    throw new ConfigError(pointer, detail);
  }
  return deepFreeze(copy as T);
}

export const nodeConfigSchemaId = nodeConfigSchema.$id;
export const gatewayConfigSchemaId = gatewayConfigSchema.$id;

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
