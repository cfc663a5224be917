// Rules JSON Schema cannot state, in one function the gateway and every node
// call, so a query refused by one is refused by all.
import type { CodeSet, CohortQuery, Dimension, Expr, Period } from '../generated/query.ts';
import { ProblemError, commonErrors, pointerToken } from '../problem.ts';
import { EXPR_KEYS, PREFIX_HIERARCHY_SYSTEMS, criterionCodeSets, exprNode } from './walk.ts';

export interface QueryLimits {
  /** Maximum Expr nesting depth (a lone criterion has depth 1). */
  readonly maxDepth: number;
  /** Maximum number of patient and event criteria in the whole query. */
  readonly maxCriteria: number;
  /** Maximum number of strata in the stratification's cross product. */
  readonly maxStrata: number;
  /** Maximum number of codes in a `codes` dimension. */
  readonly maxDimensionCodes: number;
}

export const DEFAULT_LIMITS: QueryLimits = Object.freeze({
  maxDepth: 8,
  maxCriteria: 100,
  maxStrata: 200,
  maxDimensionCodes: 50,
});

function invalid(pointer: string, detail: string): ProblemError {
  const spec = commonErrors.ERR_QUERY_INVALID;
  return new ProblemError('ERR_QUERY_INVALID', spec.status, spec.title, { pointer, detail });
}

const EXPR_KEY_SET = new Set<string>(EXPR_KEYS);

/**
 * Checks that every Expr is an object with exactly one known key, before the
 * schema runs, so the error names the bad key instead of a oneOf failure.
 * Iterative: the raw depth was already bounded by `prescan`.
 */
export function checkExprShape(cohort: unknown, pointer = '/cohort'): void {
  const stack: [unknown, string][] = [[cohort, pointer]];
  while (stack.length > 0) {
    const [value, at] = stack.pop()!;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalid(at, `must be an object with one of the keys ${EXPR_KEYS.join(', ')}`);
    }
    const keys = Object.keys(value);
    const unknown = keys.find((k) => !EXPR_KEY_SET.has(k));
    if (unknown !== undefined) {
      throw invalid(`${at}/${pointerToken(unknown)}`, `unknown key "${unknown}"`);
    }
    if (keys.length !== 1) {
      throw invalid(at, `must have exactly one key, found ${keys.length}`);
    }
    const key = keys[0]!;
    const child = (value as Record<string, unknown>)[key];
    if ((key === 'all' || key === 'any') && Array.isArray(child)) {
      child.forEach((c, i) => stack.push([c, `${at}/${key}/${i}`]));
    } else if (key === 'not') {
      stack.push([child, `${at}/not`]);
    }
  }
}

function checkRange(
  range: { min?: number; max?: number } | undefined,
  at: string,
  requireOne = false,
): void {
  if (!range) return;
  if (requireOne && range.min === undefined && range.max === undefined) {
    throw invalid(at, 'needs "min" or "max"');
  }
  if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
    throw invalid(`${at}/min`, '"min" is greater than "max"');
  }
}

function checkPeriod(period: Period | undefined, at: string): void {
  if (period?.from !== undefined && period.to !== undefined && period.from > period.to) {
    throw invalid(`${at}/from`, '"from" is after "to"');
  }
}

function checkCodeSet(codes: CodeSet, at: string): void {
  codes.forEach((coding, i) => {
    if (coding.descendants && !PREFIX_HIERARCHY_SYSTEMS.has(coding.system)) {
      throw invalid(
        `${at}/${i}/descendants`,
        `"descendants" is allowed only for prefix-hierarchical code systems (ICD-10, ATC, OPS), not ${coding.system}`,
      );
    }
  });
}

function checkEdges(edges: readonly number[], at: string, startAtZero: boolean): void {
  if (startAtZero && edges[0] !== 0) throw invalid(`${at}/0`, 'the first edge must be 0');
  for (let i = 1; i < edges.length; i++) {
    if (edges[i]! <= edges[i - 1]!) throw invalid(`${at}/${i}`, 'edges must be strictly ascending');
  }
}

/** The number of strata one dimension contributes. */
export function dimensionSize(dimension: Dimension): number {
  if (dimension === 'gender') return 4;
  if (dimension === 'deceased') return 2;
  if ('ageBand' in dimension) return dimension.ageBand.length;
  return dimension.codes.in.length;
}

/** The name a dimension has in a stratum key. */
export function dimensionName(dimension: Dimension): 'gender' | 'deceased' | 'ageBand' | 'codes' {
  if (typeof dimension === 'string') return dimension;
  return 'ageBand' in dimension ? 'ageBand' : 'codes';
}

/**
 * Checks a schema-valid query against the rules beyond JSON Schema.
 * @example checkSemantics(query, DEFAULT_LIMITS) // throws ERR_QUERY_INVALID with a pointer
 */
export function checkSemantics(query: CohortQuery, limits: QueryLimits = DEFAULT_LIMITS): void {
  let criteria = 0;
  // Depth-first with explicit depth, so the error names the first node too deep.
  const stack: [Expr, string, number][] = [[query.cohort, '/cohort', 1]];
  while (stack.length > 0) {
    const [expr, at, depth] = stack.pop()!;
    if (depth > limits.maxDepth) {
      throw invalid(at, `nesting depth exceeds ${limits.maxDepth}`);
    }
    const node = exprNode(expr);
    switch (node.op) {
      case 'all':
      case 'any':
        node.children.forEach((c, i) => stack.push([c, `${at}/${node.op}/${i}`, depth + 1]));
        break;
      case 'not':
        stack.push([node.child, `${at}/not`, depth + 1]);
        break;
      case 'patient': {
        criteria += 1;
        checkRange(node.criterion.age, `${at}/patient/age`, true);
        checkPeriod(node.criterion.birthDate, `${at}/patient/birthDate`);
        break;
      }
      case 'consent':
        criteria += 1;
        checkCodeSet(node.criterion.code, `${at}/consent/code`);
        break;
      case 'event': {
        criteria += 1;
        const base = `${at}/${node.kind}`;
        for (const [name, set] of criterionCodeSets(node.criterion)) {
          checkCodeSet(set, `${base}/${name}`);
        }
        checkPeriod(node.criterion.period, `${base}/period`);
        checkRange(node.criterion.ageAtEvent, `${base}/ageAtEvent`, true);
        if ('value' in node.criterion) checkRange(node.criterion.value, `${base}/value`, true);
        break;
      }
    }
    if (criteria > limits.maxCriteria) {
      throw invalid(at, `the query holds more than ${limits.maxCriteria} criteria`);
    }
  }

  const stratify = query.stratify ?? [];
  const seen = new Set<string>();
  let strata = 1;
  stratify.forEach((dimension, i) => {
    const at = `/stratify/${i}`;
    const name = dimensionName(dimension);
    if (seen.has(name)) throw invalid(at, `dimension "${name}" appears twice`);
    seen.add(name);
    if (typeof dimension === 'object' && 'ageBand' in dimension) {
      checkEdges(dimension.ageBand, `${at}/ageBand`, true);
    }
    if (typeof dimension === 'object' && 'codes' in dimension) {
      checkCodeSet(dimension.codes.in, `${at}/codes/in`);
      if (dimension.codes.in.length > limits.maxDimensionCodes) {
        throw invalid(`${at}/codes/in`, `more than ${limits.maxDimensionCodes} codes`);
      }
    }
    strata *= dimensionSize(dimension);
  });
  if (strata > limits.maxStrata) {
    throw invalid('/stratify', `${strata} strata exceed the maximum of ${limits.maxStrata}`);
  }

  (query.measures ?? []).forEach((measure, i) => {
    const at = `/measures/${i}`;
    if ('histogram' in measure) {
      checkCodeSet(measure.histogram.observation, `${at}/histogram/observation`);
      checkEdges(measure.histogram.edges, `${at}/histogram/edges`, false);
      checkPeriod(measure.histogram.period, `${at}/histogram/period`);
    } else if ('summary' in measure) {
      checkCodeSet(measure.summary.observation, `${at}/summary/observation`);
      checkPeriod(measure.summary.period, `${at}/summary/period`);
    }
  });
}
