// Validators compiled once at module load. Production paths stop at the first
// error (allErrors off) and report it as a problem with a JSON pointer.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import querySchema from '../json/query.schema.json' with { type: 'json' };
import nodeResultSchema from '../json/node-result.schema.json' with { type: 'json' };
import mergedResultSchema from '../json/merged-result.schema.json' with { type: 'json' };
import catalogueSchema from '../json/catalogue.schema.json' with { type: 'json' };
import problemSchema from '../json/problem.schema.json' with { type: 'json' };
import nodePolicySchema from '../json/node-policy.schema.json' with { type: 'json' };
import { ProblemError, commonErrors, pointerToken } from './problem.ts';

/** Keys that could reach an object's prototype chain; refused anywhere. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Limits of the raw JSON before any schema runs: they bound the work done on hostile input. */
export const RAW_LIMITS = Object.freeze({ maxDepth: 40, maxArray: 1000, maxString: 2048 });

export const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
addFormats(ajv, ['date', 'date-time']);
for (const schema of [
  querySchema,
  nodeResultSchema,
  mergedResultSchema,
  catalogueSchema,
  problemSchema,
  nodePolicySchema,
]) {
  ajv.addSchema(schema);
}

function compiled<T>(id: string): ValidateFunction<T> {
  const fn = ajv.getSchema<T>(id);
  if (!fn) throw new Error(`schema ${id} is not registered`);
  return fn;
}

export const schemaIds = Object.freeze({
  query: querySchema.$id,
  nodeResult: nodeResultSchema.$id,
  mergedResult: mergedResultSchema.$id,
  catalogue: catalogueSchema.$id,
  problem: problemSchema.$id,
  nodePolicy: nodePolicySchema.$id,
});

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
    default:
      return { pointer: e.instancePath, detail: e.message ?? e.keyword };
  }
}

/**
 * Validates against a registered schema and throws ERR_QUERY_INVALID-style
 * problems with a pointer; `makeError` picks the code for other documents.
 */
export function assertSchema<T>(
  id: string,
  input: unknown,
  makeError: (pointer: string, detail: string) => ProblemError = invalid,
): asserts input is T {
  const validate = compiled<T>(id);
  if (validate(input)) return;
  const best = pickError(validate.errors ?? []);
  const { pointer, detail } = best ? describeError(best) : { pointer: '', detail: 'invalid' };
  throw makeError(pointer, detail);
}

/** A type guard for documents the caller does not need a pointer for. */
export function isValid<T>(id: string, input: unknown): input is T {
  return compiled<T>(id)(input);
}
