// The node's disclosure policy: read once at start-up, defaults taken from
// the policy's JSON Schema, validated, frozen and passed in. A bad policy
// stops start-up with a message that names the key.
import {
  type CohortQuery,
  type Frozen,
  type Measure,
  DEFAULT_LIMITS,
  ProblemError,
  type QueryLimits,
  type ResolvedNodePolicyConfig,
  assertSchema,
  checkSemantics,
  prescan,
} from '@tessera/schemas';
import nodePolicySchema from '@tessera/schemas/json/node-policy.schema.json' with { type: 'json' };
import { nodeProblem } from '../errors.ts';
import { laplaceDistributions } from './laplace-release.ts';
import type { SummaryBounds } from '../engine/bounds.ts';

/**
 * A loaded policy, frozen: every key with a default in the schema is present
 * (the type generated from it), and `summary.minN`, whose default is the
 * threshold, is set too. Keys without a default (a bound's `code`) stay optional.
 */
export type NodePolicy = Frozen<
  Omit<ResolvedNodePolicyConfig, 'summary'> & {
    summary: ResolvedNodePolicyConfig['summary'] & { minN: number };
  }
>;

export type Mechanism = NodePolicy['mechanism'];

export interface LoadPolicyOptions {
  /** Accept mechanism `none` (the `open` policy); only for local testing. */
  readonly allowOpen: boolean;
}

/** The part of a JSON Schema this file reads to fill in defaults. */
interface SchemaNode {
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
}

function keyName(pointer: string): string {
  if (pointer === '') return 'policy';
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.');
}

function policyInvalid(pointer: string, detail: string): ProblemError {
  return nodeProblem('ERR_POLICY_INVALID', {
    pointer,
    detail: `${keyName(pointer)}: ${detail}`,
  });
}

/**
 * Refuses anything JSON cannot carry, naming the key: a policy assembled from
 * environment variables or code may hold NaN or Infinity, which JSON never does.
 */
function checkPlainData(value: unknown, pointer: string): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw policyInvalid(pointer, 'must be a finite number');
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((item, i) => checkPlainData(item, `${pointer}/${i}`));
        return;
      }
      for (const [key, child] of Object.entries(value)) {
        checkPlainData(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
      }
      return;
    default:
      throw policyInvalid(pointer, `must be JSON data, not ${typeof value}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes the schema's `default`s into absent keys, object by object. */
function applyDefaults(schema: SchemaNode, target: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (!(key in target) && child.default !== undefined) {
      target[key] = structuredClone(child.default);
    }
    const value = target[key];
    if (isRecord(value) && child.properties) applyDefaults(child, value);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates a node policy (parsed JSON, or the string "open"), fills in the
 * schema's defaults and returns it frozen. Throws ERR_POLICY_INVALID naming the
 * key, or ERR_OPEN_POLICY_REFUSED for mechanism `none` without `allowOpen`.
 * @example loadPolicy({ threshold: 11 }, { allowOpen: false }).cellKey.maxNoise // 2
 */
export function loadPolicy(json: unknown, options: LoadPolicyOptions): NodePolicy {
  const input: unknown = json === 'open' ? { mechanism: 'none' } : json;
  try {
    prescan(input);
  } catch (err) {
    if (err instanceof ProblemError)
      throw policyInvalid(err.pointer ?? '', err.detail ?? 'invalid');
    throw err;
  }
  checkPlainData(input, '');
  const copy: unknown = structuredClone(input);
  if (isRecord(copy)) applyDefaults(nodePolicySchema as SchemaNode, copy);
  assertSchema('node-policy', copy, policyInvalid);

  const threshold = copy.threshold!;
  const summary = copy.summary!;
  summary.minN ??= threshold;
  if (summary.minN < threshold) {
    throw policyInvalid('/summary/minN', `must be at least threshold (${threshold})`);
  }
  const laplace = copy.laplace!;
  if (laplace.projectBudget! < laplace.epsilon!) {
    throw policyInvalid(
      '/laplace/projectBudget',
      `must be at least laplace.epsilon (${laplace.epsilon})`,
    );
  }
  if (laplace.researcherBudget! < laplace.epsilon!) {
    throw policyInvalid(
      '/laplace/researcherBudget',
      `must be at least laplace.epsilon (${laplace.epsilon})`,
    );
  }
  if (laplace.researcherBudget! > laplace.projectBudget!) {
    throw policyInvalid(
      '/laplace/researcherBudget',
      `must be at most laplace.projectBudget (${laplace.projectBudget})`,
    );
  }
  try {
    laplaceDistributions({ laplace: laplace as NodePolicy['laplace'] });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw policyInvalid('/laplace/delta', `${err.message}; choose a larger delta or epsilon`);
  }
  if (copy.suppressZero === false) {
    throw policyInvalid(
      '/suppressZero',
      'must be true: an exact zero answers "is anyone in this set?" with certainty',
    );
  }
  copy.summary!.bounds!.forEach((b, i) => {
    if (!(b.min < b.max)) throw policyInvalid(`/summary/bounds/${i}/max`, 'must exceed min');
  });
  if (copy.mechanism === 'none' && !options.allowOpen) {
    throw nodeProblem('ERR_OPEN_POLICY_REFUSED', {
      pointer: '/mechanism',
      detail: 'mechanism: "none" (the open policy) needs the allow-open option',
    });
  }
  return deepFreeze(copy as NodePolicy);
}

/**
 * The query limits this policy sets, for parseQuery/checkSemantics: a
 * stratification with more strata, or a `codes` dimension with more codes, is
 * refused with ERR_QUERY_INVALID and a pointer before anything is evaluated.
 * @example parseQuery(body, policyQueryLimits(policy))
 */
export function policyQueryLimits(policy: NodePolicy): QueryLimits {
  return Object.freeze({
    ...DEFAULT_LIMITS,
    maxStrata: policy.maxStrata,
    maxDimensionCodes: policy.maxDimensionCodes,
  });
}

/**
 * Checks an already parsed query against the policy's limits (threat 11);
 * the same rules as parseQuery, so the gateway and the node refuse alike.
 * @example checkStrataLimits(query, policy) // throws ERR_QUERY_INVALID, pointer "/stratify"
 */
export function checkStrataLimits(query: CohortQuery, policy: NodePolicy): void {
  checkSemantics(query, policyQueryLimits(policy));
}

/**
 * The clamping bounds the policy sets for each of a query's measures
 * (undefined for other measures, and for summaries whose unit and code have
 * none: their mean and sd are withheld). An entry with a code matches a summary
 * over exactly that one code and wins over one for the unit alone.
 * @example summaryBoundsFor(query, policy) // [undefined, { min: 0, max: 300 }]
 */
export function summaryBoundsFor(
  query: Pick<CohortQuery, 'measures'>,
  policy: NodePolicy,
): (SummaryBounds | undefined)[] {
  return (query.measures ?? []).map((m: Measure) => {
    if (!('summary' in m)) return undefined;
    const { unit, observation } = m.summary;
    const codes = observation.map((c) => `${c.system}|${c.code}`);
    const code = codes.length === 1 ? codes[0] : undefined;
    const matches = policy.summary.bounds.filter((b) => b.unit === unit);
    // An entry for the summary's one code wins over an entry for the unit alone.
    const entry =
      matches.find((b) => b.code !== undefined && b.code === code) ??
      matches.find((b) => b.code === undefined);
    return entry === undefined ? undefined : { min: entry.min, max: entry.max };
  });
}

/**
 * Under cell-key, refuses histogram edges off the policy's grid for their unit
 * (ERR_QUERY_INVALID with a pointer to the edge): edges moved in fine steps
 * would find one patient's value. Laplace noises every bin and charges every
 * new query, so it accepts any edges.
 * @example checkHistogramGrid(query, policy) // throws at /measures/1/histogram/edges/0
 */
export function checkHistogramGrid(
  query: Pick<CohortQuery, 'measures'>,
  policy: NodePolicy,
  pointer = '',
): void {
  if (policy.mechanism !== 'cell-key') return;
  const grid = policy.cellKey.histogramGrid;
  (query.measures ?? []).forEach((m: Measure, mi) => {
    if (!('histogram' in m)) return;
    const { unit, edges } = m.histogram;
    // The schema requires `*`.
    const step = (Object.hasOwn(grid, unit) ? grid[unit] : undefined) ?? grid['*'];
    edges.forEach((edge, ei) => {
      // The grid point as it is written in decimal (0.1 * 3 is 0.30000000000000004):
      // an edge a hair off the grid would separate a patient's exact value.
      const onGrid = Number((Math.round(edge / step) * step).toPrecision(12));
      if (onGrid !== edge) {
        throw nodeProblem('ERR_QUERY_INVALID', {
          pointer: `${pointer}/measures/${mi}/histogram/edges/${ei}`,
          detail: `histogram edges in ${unit} must be multiples of ${step} at this node`,
        });
      }
    });
  });
}
