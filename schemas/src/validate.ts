// Validators compiled once at module load. Production paths stop at the first
// error (allErrors off) and report it as a problem with a JSON pointer.
// Callers name a schema; the type they get back is the one generated from it.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import querySchema from '../json/query.schema.json' with { type: 'json' };
import nodeResultSchema from '../json/node-result.schema.json' with { type: 'json' };
import mergedResultSchema from '../json/merged-result.schema.json' with { type: 'json' };
import catalogueSchema from '../json/catalogue.schema.json' with { type: 'json' };
import problemSchema from '../json/problem.schema.json' with { type: 'json' };
import nodePolicySchema from '../json/node-policy.schema.json' with { type: 'json' };
import type { CatalogueEntry } from './generated/catalogue.ts';
import type { MergedResult } from './generated/merged-result.ts';
import type { NodePolicyConfig } from './generated/node-policy.ts';
import type { NodeResult } from './generated/node-result.ts';
import type { Problem } from './generated/problem.ts';
import type { CohortQuery } from './generated/query.ts';
import { ProblemError, commonErrors, pointerToken } from './problem.ts';

/**
 * Every schema the validators know, by name (its file `schemas/json/<name>.schema.json`),
 * with the type generated from it (`src/generated/<name>.ts`).
 */
export interface SchemaTypes {
  query: CohortQuery;
  'node-result': NodeResult;
  'merged-result': MergedResult;
  catalogue: CatalogueEntry;
  problem: Problem;
  'node-policy': NodePolicyConfig;
}

export type SchemaName = keyof SchemaTypes;

/** The schema documents by name; `satisfies` keeps this and `SchemaTypes` in step. */
const SCHEMAS = {
  query: querySchema,
  'node-result': nodeResultSchema,
  'merged-result': mergedResultSchema,
  catalogue: catalogueSchema,
  problem: problemSchema,
  'node-policy': nodePolicySchema,
} satisfies Record<SchemaName, { readonly $id: string }>;

/** Keys that could reach an object's prototype chain; refused anywhere. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Limits of the raw JSON before any schema runs: they bound the work done on hostile input. */
export const RAW_LIMITS = Object.freeze({ maxDepth: 40, maxArray: 1000, maxString: 2048 });

// Private: callers validate through the functions below, so nobody can add,
// remove or reconfigure a schema behind everyone else's back.
const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
addFormats(ajv, ['date', 'date-time']);
for (const schema of Object.values(SCHEMAS)) ajv.addSchema(schema);

function compiled(ref: string): ValidateFunction {
  const fn = ajv.getSchema(ref);
  if (!fn) throw new Error(`schema ${ref} is not registered`);
  return fn;
}

/** The `$id` a schema is registered under. */
export function schemaId(name: SchemaName): string {
  // Checked at run time too, for callers in plain JavaScript or with `any`.
  if (!Object.hasOwn(SCHEMAS, name)) throw new Error(`schema ${String(name)} is not registered`);
  return SCHEMAS[name].$id;
}

function invalid(pointer: string, detail: string): ProblemError {
  const spec = commonErrors.ERR_QUERY_INVALID;
  return new ProblemError('ERR_QUERY_INVALID', spec.status, spec.title, { pointer, detail });
}

/**
 * Walks raw JSON without recursion, refusing prototype keys, excessive depth,
 * huge arrays and long strings, so the schema validator only ever sees bounded input.
 * @example prescan(JSON.parse('{"__proto__":{}}')) // throws, pointer "/__proto__"
 */
export function prescan(input: unknown, limits = RAW_LIMITS): void {
  const stack: { value: unknown; pointer: string; depth: number }[] = [
    { value: input, pointer: '', depth: 0 },
  ];
  while (stack.length > 0) {
    const { value, pointer, depth } = stack.pop()!;
    if (typeof value === 'string' && value.length > limits.maxString) {
      throw invalid(pointer, `string longer than ${limits.maxString} characters`);
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= limits.maxDepth)
      throw invalid(pointer, `nested deeper than ${limits.maxDepth} levels`);
    if (Array.isArray(value)) {
      if (value.length > limits.maxArray) {
        throw invalid(pointer, `array longer than ${limits.maxArray} items`);
      }
      value.forEach((item, i) =>
        stack.push({ value: item, pointer: `${pointer}/${i}`, depth: depth + 1 }),
      );
      continue;
    }
    for (const key of Object.keys(value)) {
      const child = `${pointer}/${pointerToken(key)}`;
      if (FORBIDDEN_KEYS.has(key)) throw invalid(child, `key "${key}" is not allowed`);
      stack.push({
        value: (value as Record<string, unknown>)[key],
        pointer: child,
        depth: depth + 1,
      });
    }
  }
}

/**
 * The most useful of ajv's errors: the deepest one, because a oneOf over
 * single-key objects reports every branch and only the matching branch's
 * error points inside the offending criterion.
 */
export function pickError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  let best: ErrorObject | undefined;
  for (const e of errors) {
    const depth = e.instancePath.split('/').length + (e.keyword === 'additionalProperties' ? 1 : 0);
    const bestDepth = best
      ? best.instancePath.split('/').length + (best.keyword === 'additionalProperties' ? 1 : 0)
      : -1;
    // Among equally deep errors, the branch's own complaint beats "must match oneOf"/"required".
    const better = depth > bestDepth || (depth === bestDepth && best?.keyword === 'oneOf');
    if (!best || better) best = e;
  }
  return best;
}

/** Turns one ajv error into a pointer and a sentence that names the rule. */
export function describeError(e: ErrorObject): { pointer: string; detail: string } {
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      return { pointer: `${e.instancePath}/${pointerToken(key)}`, detail: `unknown key "${key}"` };
    }
    case 'required': {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      return { pointer: e.instancePath, detail: `missing required key "${key}"` };
    }
    case 'oneOf':
      return { pointer: e.instancePath, detail: 'does not match any allowed form' };
    case 'discriminator': {
      // A oneOf chosen by a tag (configuration `kind`): the tag is missing or names no branch.
      const { tag, tagValue } = e.params as { tag: string; tagValue: unknown };
      return {
        pointer: `${e.instancePath}/${pointerToken(tag)}`,
        detail:
          typeof tagValue === 'string'
            ? `"${tagValue}" is not an allowed ${tag}`
            : `missing or not a string: "${tag}"`,
      };
    }
    default:
      return { pointer: e.instancePath, detail: e.message ?? e.keyword };
  }
}

/**
 * Validates against a named schema and throws ERR_QUERY_INVALID-style
 * problems with a pointer; `makeError` picks the code for other documents.
 * @example assertSchema('node-policy', copy, policyInvalid); // copy is now a NodePolicyConfig
 */
export function assertSchema<N extends SchemaName>(
  name: N,
  input: unknown,
  makeError: (pointer: string, detail: string) => ProblemError = invalid,
): asserts input is SchemaTypes[N] {
  const validate = compiled(schemaId(name));
  if (validate(input)) return;
  const best = pickError(validate.errors ?? []);
  const { pointer, detail } = best ? describeError(best) : { pointer: '', detail: 'invalid' };
  throw makeError(pointer, detail);
}

/**
 * A type guard for documents the caller does not need a pointer for; the
 * type follows from the schema named.
 * @example if (isValid('node-result', parsed)) parsed.disclosure // parsed: NodeResult
 */
export function isValid<N extends SchemaName>(name: N, input: unknown): input is SchemaTypes[N] {
  return compiled(schemaId(name))(input);
}

/**
 * Whether a value matches one definition (`$defs/<def>`) of a named schema,
 * such as the query's `Coding` or `IsoDate`, for importers that build a
 * document piece by piece.
 */
export function matchesDefinition(name: SchemaName, def: string, input: unknown): boolean {
  return compiled(`${schemaId(name)}#/$defs/${def}`)(input);
}
