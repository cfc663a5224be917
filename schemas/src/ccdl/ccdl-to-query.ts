// Import of the Clinical Cohort Definition Language (structured query v2) of
// the German Medical Informatics Initiative. The translation is exact or it
// is refused: a criterion that v1 would read more broadly or more narrowly
// than CCDL does is an ERR_CCDL_UNSUPPORTED with a pointer into the document.
import type {
  AgeRange,
  CodeSet,
  Coding,
  CohortQuery,
  EventCriterion,
  Expr,
  Gender,
  MedicationCriterion,
  ObservationCriterion,
  Period,
  ValueRange,
} from '../generated/query.ts';
import { ProblemError } from '../problem.ts';
import { parseQuery } from '../query/parse.ts';
import { DEFAULT_LIMITS } from '../query/semantic.ts';
import type { EventKind } from '../query/walk.ts';
import { matchesDefinition, prescan } from '../validate.ts';
import {
  child,
  malformed,
  readArray,
  readBoolean,
  readNumber,
  readObject,
  readString,
  required,
  unsupported,
} from './read.ts';
import {
  ADMINISTRATIVE_GENDER,
  AGE_UNIT,
  CONTEXT_SYSTEM,
  type ContextRule,
  type SystemRule,
  consentCodeProblem,
  contextRule,
  patientConcept,
  semanticTagKind,
  systemRule,
  valueCodeRule,
} from './terminology.ts';

const MAX_CHILDREN = 32;
const MAX_CODES = 200;
const MAX_AGE = 150;
const MAX_VALUE = 1e12;
const MAX_LABEL = 200;
const GENDERS: readonly string[] = ['female', 'male', 'other', 'unknown'];

const fits = (def: string, value: unknown) => matchesDefinition('query', def, value);

interface TermCode {
  readonly system: string;
  readonly code: string;
  readonly display: string | undefined;
  readonly at: string;
}

type ValueFilter =
  | { readonly type: 'concept'; readonly concepts: TermCode[]; readonly at: string }
  | {
      readonly type: 'quantity-comparator';
      readonly comparator: 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
      readonly value: number;
      readonly unit: string | undefined;
      readonly at: string;
    }
  | {
      readonly type: 'quantity-range';
      readonly min: number;
      readonly max: number;
      readonly unit: string | undefined;
      readonly at: string;
    };

const TERM_CODE_KEYS = ['code', 'system', 'display', 'version'];

function readTermCode(value: unknown, at: string): TermCode {
  const tc = readObject(value, at, TERM_CODE_KEYS);
  if (tc.version !== undefined) readString(tc.version, child(at, 'version'));
  return {
    system: readString(required(tc, 'system', at), child(at, 'system')),
    code: readString(required(tc, 'code', at), child(at, 'code')),
    display: tc.display === undefined ? undefined : readString(tc.display, child(at, 'display')),
    at,
  };
}

function readUnit(value: unknown, at: string): string | undefined {
  if (value === undefined) return undefined;
  const unit = readObject(value, at, ['code', 'display']);
  if (unit.display !== undefined) readString(unit.display, child(at, 'display'));
  return readString(required(unit, 'code', at), child(at, 'code'));
}

const COMPARATORS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const;

function readValueFilter(value: unknown, at: string): ValueFilter {
  const raw = readObject(value, at, [
    'type',
    'selectedConcepts',
    'comparator',
    'value',
    'unit',
    'minValue',
    'maxValue',
  ]);
  const type = readString(required(raw, 'type', at), child(at, 'type'));
  const allowOnly = (keys: string[]) => {
    const extra = Object.keys(raw).find((k) => !keys.includes(k));
    if (extra !== undefined) {
      throw malformed(child(at, extra), `"${extra}" is not a key of a ${type} filter`);
    }
  };
  switch (type) {
    case 'concept': {
      allowOnly(['type', 'selectedConcepts']);
      const at_ = child(at, 'selectedConcepts');
      const list = readArray(required(raw, 'selectedConcepts', at), at_, 1);
      return { type, concepts: list.map((c, i) => readTermCode(c, child(at_, i))), at };
    }
    case 'quantity-comparator': {
      allowOnly(['type', 'comparator', 'value', 'unit']);
      const comparator = readString(required(raw, 'comparator', at), child(at, 'comparator'));
      if (!(COMPARATORS as readonly string[]).includes(comparator)) {
        throw malformed(child(at, 'comparator'), `must be one of ${COMPARATORS.join(', ')}`);
      }
      return {
        type,
        comparator: comparator as (typeof COMPARATORS)[number],
        value: readNumber(required(raw, 'value', at), child(at, 'value')),
        unit: readUnit(raw.unit, child(at, 'unit')),
        at,
      };
    }
    case 'quantity-range': {
      allowOnly(['type', 'minValue', 'maxValue', 'unit']);
      return {
        type,
        min: readNumber(required(raw, 'minValue', at), child(at, 'minValue')),
        max: readNumber(required(raw, 'maxValue', at), child(at, 'maxValue')),
        unit: readUnit(raw.unit, child(at, 'unit')),
        at,
      };
    }
    default:
      throw unsupported(child(at, 'type'), `v1 has no value filter of type "${type}"`);
  }
}

// CCDL matches a resource whose time overlaps the restriction; v1 matches on
// one event date per kind (a period's start). The two agree for point-in-time
// resources, which is how conditions, observations and procedures are mostly
// recorded; docs/query-language.md states the difference.
function readPeriod(value: unknown, at: string): Period {
  const tr = readObject(value, at, ['afterDate', 'beforeDate']);
  if (tr.afterDate === undefined && tr.beforeDate === undefined) {
    throw malformed(at, 'needs "afterDate" or "beforeDate"');
  }
  const date = (key: string) => {
    if (tr[key] === undefined) return undefined;
    const d = readString(tr[key], child(at, key));
    if (!fits('IsoDate', d)) throw malformed(child(at, key), 'must be a date (YYYY-MM-DD)');
    return d;
  };
  const from = date('afterDate');
  const to = date('beforeDate');
  if (from !== undefined && to !== undefined && from > to) {
    throw unsupported(
      child(at, 'afterDate'),
      'the time restriction is empty: afterDate is after beforeDate',
    );
  }
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
}

/** The rule for a criterion's code, or a refusal naming the system v1 has no rule for. */
function ruleFor(tc: TermCode): SystemRule {
  const rule = systemRule(tc.system);
  if (!rule) {
    throw unsupported(
      child(tc.at, 'system'),
      `no rule maps the code system ${tc.system} to a v1 criterion`,
    );
  }
  return rule;
}

/** A CCDL code as a v1 coding, or a refusal naming what v1 cannot write. */
function toCoding(tc: TermCode, rule: SystemRule): Coding {
  if (rule.leafLength !== undefined && tc.code.length !== rule.leafLength) {
    throw unsupported(
      child(tc.at, 'code'),
      `${tc.code} is a group of ${tc.system}; v1 expands groups only for http://www.whocc.no/atc, so only substance codes (${rule.leafLength} characters) translate exactly`,
    );
  }
  const coding: Coding = {
    system: rule.system,
    code: tc.code,
    ...(rule.descendants ? { descendants: true } : {}),
  };
  if (!fits('Coding', coding)) {
    throw unsupported(
      child(tc.at, 'code'),
      `the code "${tc.code}" of ${tc.system} cannot be written in a v1 query`,
    );
  }
  return coding;
}

function toCodeSet(codings: Coding[], at: string): CodeSet {
  if (codings.length > MAX_CODES) {
    throw unsupported(at, `more than ${MAX_CODES} codes in one criterion`);
  }
  return codings as CodeSet;
}

function toUnit(unit: string | undefined, at: string): string {
  if (unit === undefined) {
    throw unsupported(at, 'v1 value ranges need a UCUM unit; the filter has none');
  }
  if (!fits('Unit', unit)) {
    throw unsupported(child(at, 'unit'), `"${unit}" is not a UCUM unit v1 can carry`);
  }
  return unit;
}

function checkBound(value: number, at: string): number {
  if (Math.abs(value) > MAX_VALUE) {
    throw unsupported(at, `${value} is outside the range v1 accepts`);
  }
  return value;
}

const STRICT =
  'is a strict bound; v1 ranges include their bounds, and a decimal value has no next value to make it inclusive';

/** An observation's value filter as v1's `value` or `valueCode`. */
function observationValue(filter: ValueFilter): Pick<ObservationCriterion, 'value' | 'valueCode'> {
  const { at } = filter;
  switch (filter.type) {
    case 'concept':
      return {
        valueCode: toCodeSet(
          filter.concepts.map((c) => toCoding(c, valueCodeRule(c.system))),
          child(at, 'selectedConcepts'),
        ),
      };
    case 'quantity-range': {
      const unit = toUnit(filter.unit, at);
      const min = checkBound(filter.min, child(at, 'minValue'));
      const max = checkBound(filter.max, child(at, 'maxValue'));
      if (min > max) {
        throw unsupported(child(at, 'minValue'), 'the range is empty: minValue is above maxValue');
      }
      return { value: { min, max, unit } };
    }
    case 'quantity-comparator': {
      const unit = toUnit(filter.unit, at);
      const v = checkBound(filter.value, child(at, 'value'));
      const ranges: Partial<Record<typeof filter.comparator, ValueRange>> = {
        ge: { min: v, unit },
        le: { max: v, unit },
        eq: { min: v, max: v, unit },
      };
      const value = ranges[filter.comparator];
      if (value) return { value };
      const why =
        filter.comparator === 'ne'
          ? 'v1 has no "not equal" range'
          : `"${filter.comparator}" ${STRICT}`;
      throw unsupported(child(at, 'comparator'), why);
    }
  }
}

/**
 * An age filter as v1's whole-year age. Ages are integers, so strict bounds
 * become inclusive ones exactly (gt 18 is min 19) and fractional bounds round inwards.
 */
function ageRange(filter: ValueFilter): AgeRange {
  const { at } = filter;
  if (filter.type === 'concept') {
    throw unsupported(child(at, 'type'), 'an age filter needs a quantity');
  }
  if (filter.unit !== AGE_UNIT) {
    throw unsupported(
      filter.unit === undefined ? at : child(child(at, 'unit'), 'code'),
      `v1 ages are whole years; the unit must be "${AGE_UNIT}", not ${filter.unit === undefined ? 'missing' : `"${filter.unit}"`}`,
    );
  }
  let min: number | undefined;
  let max: number | undefined;
  if (filter.type === 'quantity-range') {
    min = Math.ceil(filter.min);
    max = Math.floor(filter.max);
  } else {
    const v = filter.value;
    switch (filter.comparator) {
      case 'gt':
        min = Math.floor(v) + 1;
        break;
      case 'ge':
        min = Math.ceil(v);
        break;
      case 'lt':
        max = Math.ceil(v) - 1;
        break;
      case 'le':
        max = Math.floor(v);
        break;
      case 'eq':
        if (!Number.isInteger(v)) {
          throw unsupported(child(at, 'value'), `no whole-year age equals ${v}`);
        }
        min = max = v;
        break;
      case 'ne':
        throw unsupported(child(at, 'comparator'), 'v1 has no "not equal" age');
    }
  }
  if (min !== undefined && min < 0) min = 0; // every age is at least 0
  if ((min ?? 0) > MAX_AGE || (max ?? 0) > MAX_AGE) {
    throw unsupported(at, `v1 ages go up to ${MAX_AGE}`);
  }
  if ((max !== undefined && max < 0) || (min !== undefined && max !== undefined && min > max)) {
    throw unsupported(at, 'no whole-year age satisfies the filter');
  }
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}

interface CriterionParts {
  readonly at: string;
  readonly termCodes: TermCode[];
  readonly context: ContextRule | undefined;
  readonly valueFilter: ValueFilter | undefined;
  readonly period: Period | undefined;
}

function patientCriterion(parts: CriterionParts): Expr {
  const { at, termCodes, valueFilter } = parts;
  const concepts = termCodes.map((tc) => {
    const concept = patientConcept(tc.system, tc.code);
    if (!concept) {
      throw unsupported(
        tc.at,
        `v1 patient criteria are gender and age; ${tc.system}|${tc.code} is neither`,
      );
    }
    return concept;
  });
  const concept = concepts[0]!;
  const other = concepts.findIndex((c) => c !== concept);
  if (other >= 0) throw unsupported(termCodes[other]!.at, 'gender and age in one criterion');
  if (parts.period) {
    throw unsupported(child(at, 'timeRestriction'), `v1 has no time restriction on ${concept}`);
  }
  if (!valueFilter) {
    throw unsupported(at, `a ${concept} criterion without a value filter has no v1 equivalent`);
  }
  if (concept === 'age') return { patient: { age: ageRange(valueFilter) } };

  if (valueFilter.type !== 'concept') {
    throw unsupported(child(valueFilter.at, 'type'), 'a gender filter needs concepts');
  }
  const genders = valueFilter.concepts.map((c) => {
    if (c.system !== ADMINISTRATIVE_GENDER || !GENDERS.includes(c.code)) {
      throw unsupported(
        c.at,
        `v1 genders are FHIR administrative gender (${GENDERS.join(', ')}), not ${c.system}|${c.code}`,
      );
    }
    return c.code as Gender;
  });
  return { patient: { gender: [...new Set(genders)] as [Gender, ...Gender[]] } };
}

/**
 * A consent criterion: the patient's active Consent permits one of the
 * policy codes on the query's date (the termCodes are synonyms, so any).
 */
function consentCriterion(parts: CriterionParts): Expr {
  const { at, termCodes } = parts;
  const codings = termCodes.map((tc): Coding => {
    const problem = consentCodeProblem(tc.system);
    if (problem !== undefined) throw unsupported(child(tc.at, 'system'), problem);
    const coding = { system: tc.system, code: tc.code };
    if (!fits('Coding', coding)) {
      throw unsupported(
        child(tc.at, 'code'),
        `the code "${tc.code}" cannot be written in a v1 query`,
      );
    }
    return coding;
  });
  if (parts.valueFilter) {
    throw unsupported(child(at, 'valueFilter'), 'a consent criterion has no value filter in v1');
  }
  if (parts.period) {
    throw unsupported(
      child(at, 'timeRestriction'),
      "v1 consent criteria hold on the query's date (asOf); they have no time restriction",
    );
  }
  return { consent: { code: toCodeSet(codings, child(at, 'termCodes')) } };
}

/**
 * The kind of a SNOMED CT code without a context, from its display's
 * semantic tag; never a guess: no tag, no kind.
 */
function kindFromSemanticTag(tc: TermCode): EventKind {
  const kind = semanticTagKind(tc.display);
  if (kind === undefined) {
    throw unsupported(
      tc.at,
      `${tc.system}|${tc.code} names no resource type: the criterion has no context and the display no semantic tag; add the context (Diagnose, Prozedur, Laboruntersuchung)`,
    );
  }
  if (typeof kind === 'object') throw unsupported(child(tc.at, 'display'), kind.reason);
  return kind;
}

/**
 * Event criteria, one per kind the termCodes fall into. Each resource is of
 * one kind, so "any code of the criterion" is exactly the `any` of the kinds.
 */
function eventCriteria(parts: CriterionParts): Expr[] {
  const { at, termCodes, context, valueFilter, period } = parts;
  const byKind = new Map<EventKind, Coding[]>();
  // The patient context never reaches here: patientCriterion takes it.
  const eventContext = context?.kind as EventKind | undefined;
  for (const tc of termCodes) {
    const rule = ruleFor(tc);
    const kind = rule.kind ?? eventContext ?? kindFromSemanticTag(tc);
    if (eventContext !== undefined && kind !== eventContext) {
      throw unsupported(
        child(at, 'context'),
        `the context selects ${eventContext}, but ${tc.system} codes are ${kind} codes`,
      );
    }
    const list = byKind.get(kind) ?? [];
    list.push(toCoding(tc, rule));
    byKind.set(kind, list);
  }
  if (valueFilter) {
    const other = [...byKind.keys()].find((k) => k !== 'observation');
    if (other) {
      throw unsupported(
        child(at, 'valueFilter'),
        `v1 filters values of observations only, not of ${other}`,
      );
    }
  }
  const value = valueFilter ? observationValue(valueFilter) : {};
  // A medication context keeps to its resource type: an administration is not any medication use.
  const resourceTypes = context?.resourceTypes ? { resourceTypes: [...context.resourceTypes] } : {};
  return [...byKind].map(([kind, codings]) => {
    const criterion: EventCriterion | ObservationCriterion | MedicationCriterion = {
      code: toCodeSet(codings, child(at, 'termCodes')),
      ...(period ? { period } : {}),
      ...(kind === 'observation' ? value : {}),
      ...(kind === 'medication' ? resourceTypes : {}),
    };
    return { [kind]: criterion } as unknown as Expr;
  });
}

const CRITERION_KEYS = [
  'context',
  'termCodes',
  'termCode',
  'valueFilter',
  'attributeFilters',
  'timeRestriction',
  'negated',
];

/**
 * A criterion's codes: `termCodes`, or the early draft's `termCode`, which
 * held one code object and means the same as a list of that one code.
 */
function readTermCodes(raw: Record<string, unknown>, at: string): TermCode[] {
  if (raw.termCode !== undefined) {
    const draftAt = child(at, 'termCode');
    if (raw.termCodes !== undefined) {
      throw unsupported(
        draftAt,
        'both "termCode" (the early draft\'s key) and "termCodes"; which one counts is not defined',
      );
    }
    if (Array.isArray(raw.termCode)) {
      throw malformed(
        draftAt,
        '"termCode" (the early draft\'s key) holds one code object; a list of codes is "termCodes"',
      );
    }
    return [readTermCode(raw.termCode, draftAt)];
  }
  const codesAt = child(at, 'termCodes');
  return readArray(required(raw, 'termCodes', at), codesAt, 1).map((tc, i) =>
    readTermCode(tc, child(codesAt, i)),
  );
}

class Translation {
  private criteria = 0;

  criterion(value: unknown, at: string): Expr {
    const raw = readObject(value, at, CRITERION_KEYS);
    const termCodes = readTermCodes(raw, at);
    if (raw.attributeFilters !== undefined) {
      const filters = readArray(raw.attributeFilters, child(at, 'attributeFilters'));
      if (filters.length > 0) {
        throw unsupported(
          child(at, 'attributeFilters'),
          'v1 has no attribute filters (they restrict elements other than code, value and date)',
        );
      }
    }
    const parts: CriterionParts = {
      at,
      termCodes,
      context:
        raw.context === undefined ? undefined : this.context(raw.context, child(at, 'context')),
      valueFilter:
        raw.valueFilter === undefined
          ? undefined
          : readValueFilter(raw.valueFilter, child(at, 'valueFilter')),
      period:
        raw.timeRestriction === undefined
          ? undefined
          : readPeriod(raw.timeRestriction, child(at, 'timeRestriction')),
    };
    const isPatient =
      parts.context?.kind === 'patient' ||
      (parts.context === undefined && termCodes.some((tc) => patientConcept(tc.system, tc.code)));
    const isConsent =
      parts.context?.kind === 'consent' ||
      (parts.context === undefined &&
        termCodes.every((tc) => consentCodeProblem(tc.system) === undefined));
    const exprs = isPatient
      ? [patientCriterion(parts)]
      : isConsent
        ? [consentCriterion(parts)]
        : eventCriteria(parts);
    this.criteria += exprs.length;
    if (this.criteria > DEFAULT_LIMITS.maxCriteria) {
      throw unsupported(at, `the document holds more than ${DEFAULT_LIMITS.maxCriteria} criteria`);
    }
    const expr = this.combine('any', exprs, at);
    const negated =
      raw.negated === undefined ? false : readBoolean(raw.negated, child(at, 'negated'));
    return negated ? { not: expr } : expr;
  }

  private context(value: unknown, at: string): ContextRule {
    const ctx = readTermCode(value, at);
    if (ctx.system !== CONTEXT_SYSTEM) {
      throw unsupported(
        child(at, 'system'),
        `contexts are read from the ${CONTEXT_SYSTEM} ontology, not ${ctx.system}`,
      );
    }
    const rule = contextRule(ctx.code);
    if ('reason' in rule) throw unsupported(child(at, 'code'), rule.reason);
    return rule;
  }

  /** `op` of the children; a single child stands alone, as CCDL's one-element groups do. */
  combine(op: 'all' | 'any', children: Expr[], at: string): Expr {
    if (children.length === 1) return children[0]!;
    if (children.length > MAX_CHILDREN) {
      throw unsupported(at, `v1 groups hold at most ${MAX_CHILDREN} criteria`);
    }
    return (op === 'all' ? { all: children } : { any: children }) as Expr;
  }

  /** An array of arrays: `outer` of the groups, `inner` within each. */
  groups(value: unknown, at: string, outer: 'all' | 'any', inner: 'all' | 'any'): Expr {
    const groups = readArray(value, at, 1).map((g, i) => {
      const groupAt = child(at, i);
      if (typeof g === 'object' && g !== null && !Array.isArray(g)) {
        throw unsupported(
          groupAt,
          'a flat list of criteria is the early draft format, which does not say whether they are AND-ed or OR-ed; structured query draft-2 and later write groups (an array of arrays)',
        );
      }
      const items = readArray(g, groupAt, 1).map((c, j) => this.criterion(c, child(groupAt, j)));
      return this.combine(inner, items, groupAt);
    });
    return this.combine(outer, groups, at);
  }
}

/**
 * Translates a CCDL structured query (v2: `inclusionCriteria` an AND of OR
 * groups, `exclusionCriteria` an OR of AND groups) into a v1 cohort query,
 * validated with `parseQuery`. Throws ERR_QUERY_INVALID for a document that
 * is not CCDL, and ERR_CCDL_UNSUPPORTED for one that v1 cannot express
 * exactly; both carry a JSON pointer into the CCDL document.
 * @example
 * ccdlToQuery({ version: 'http://to_be_decided.com/draft-2/schema#', inclusionCriteria: [[
 *   { termCodes: [{ system: 'http://fhir.de/CodeSystem/bfarm/icd-10-gm', code: 'E11', display: 'Diabetes' }] }]] })
 * // { version: 1, cohort: { condition: { code: [{ system: '…/icd-10-gm', code: 'E11', descendants: true }] } } }
 */
export function ccdlToQuery(doc: unknown): CohortQuery {
  prescan(doc);
  const top = readObject(doc, '', ['version', 'display', 'inclusionCriteria', 'exclusionCriteria']);
  // The early draft had no version; the structure alone tells the formats apart.
  if (top.version !== undefined) readString(top.version, '/version');
  const t = new Translation();
  const included = t.groups(
    required(top, 'inclusionCriteria', ''),
    '/inclusionCriteria',
    'all',
    'any',
  );
  const cohort =
    top.exclusionCriteria === undefined
      ? included
      : t.combine(
          'all',
          [included, { not: t.groups(top.exclusionCriteria, '/exclusionCriteria', 'any', 'all') }],
          '',
        );
  const display = top.display === undefined ? '' : readString(top.display, '/display');
  const query: CohortQuery = {
    version: 1,
    cohort,
    ...(display === '' ? {} : { label: display.slice(0, MAX_LABEL) }),
  };
  try {
    return parseQuery(query);
  } catch (err) {
    // Every rule v1 checks is checked above with a CCDL pointer; this is the backstop.
    if (!(err instanceof ProblemError)) throw err;
    throw unsupported(
      '',
      `the translation is not a valid v1 query (${err.detail ?? err.title} at ${err.pointer ?? ''})`,
    );
  }
}
