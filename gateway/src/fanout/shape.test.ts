// The shape check on its own (threat 51): what a query asks for, and which
// answers fit it. The fan-out test runs it against a real rogue node.
import { describe, expect, it } from 'vitest';
import type {
  CodeSet,
  CohortQuery,
  Measure,
  MeasureResult,
  NodeResult,
  Stratum,
} from '@tessera/schemas';
import { nodeResultOf } from '../../test/support/test-node-server.ts';
import { ageBandLabels, fitsShape, resultShape } from './shape.ts';

const HASH = `sha256:${'c'.repeat(64)}`;
const cohort = { patient: { deceased: false } } as const;
const ICD = 'http://hl7.org/fhir/sid/icd-10';

const cell = { count: 12, perturbed: true } as const;
const stratum = (key: Record<string, string>): Stratum => ({ key, cell });
const answer = (fields: Partial<NodeResult>): NodeResult => nodeResultOf('n', HASH, fields);
type Asked = Pick<CohortQuery, 'stratify' | 'measures'>;
const fits = (query: Asked, fields: Partial<NodeResult>) =>
  fitsShape(answer(fields), resultShape({ version: 1, cohort, ...query }));

const histogram: Measure = {
  histogram: {
    observation: [{ system: 'http://loinc.org', code: '4548-4' }],
    unit: '%',
    edges: [4, 6, 8],
  },
};
const observation: CodeSet = [{ system: 'http://loinc.org', code: '4548-4' }];
const bins = (edges: number[]): MeasureResult => ({
  type: 'histogram',
  unit: '%',
  bins: edges.map((from, i) =>
    edges[i + 1] === undefined ? { from, cell } : { from, to: edges[i + 1]!, cell },
  ),
  missing: cell,
});

describe('the shape of an answer', () => {
  it('labels age bands as the nodes do', () => {
    expect(ageBandLabels([0, 18, 40, 65, 80])).toEqual(['0-17', '18-39', '40-64', '65-79', '80+']);
  });

  it('fits the honest answers: no strata, the cross product or part of it, the measures asked', () => {
    expect(fits({}, {})).toBe(true);
    const gender = ['female', 'male', 'other', 'unknown'];
    const strata = gender.flatMap((g) =>
      ['0-17', '18+'].map((a) => stratum({ gender: g, ageBand: a })),
    );
    expect(fits({ stratify: ['gender', { ageBand: [0, 18] }] }, { strata })).toBe(true);
    expect(fits({ stratify: ['gender', { ageBand: [0, 18] }] }, { strata: strata.slice(2) })).toBe(
      true,
    );
    expect(
      fits(
        {
          stratify: [
            'deceased',
            { codes: { of: 'condition', in: [{ system: ICD, code: 'E11' }] } },
          ],
        },
        { strata: [stratum({ deceased: 'true', codes: `${ICD}|E11` })] },
      ),
    ).toBe(true);
    expect(
      fits(
        { measures: [{ count: 'patients' }, histogram] },
        { measures: [{ type: 'count' }, bins([4, 6, 8])] },
      ),
    ).toBe(true);
  });

  const rogue: [string, Asked, Partial<NodeResult>][] = [
    ['strata to an unstratified query', {}, { strata: [stratum({ codes: '=HYPERLINK("x")' })] }],
    ['another dimension', { stratify: ['gender'] }, { strata: [stratum({ deceased: 'true' })] }],
    [
      'a dimension too many',
      { stratify: ['gender'] },
      { strata: [stratum({ gender: 'male', deceased: 'true' })] },
    ],
    [
      'a dimension too few',
      { stratify: ['gender', 'deceased'] },
      { strata: [stratum({ gender: 'male' })] },
    ],
    ['a gender value of its own', { stratify: ['gender'] }, { strata: [stratum({ gender: 'x' })] }],
    [
      'an age band off the edges',
      { stratify: [{ ageBand: [0, 18] }] },
      { strata: [stratum({ ageBand: '0-20' })] },
    ],
    [
      'a deceased value of its own',
      { stratify: ['deceased'] },
      { strata: [stratum({ deceased: 'yes' })] },
    ],
    [
      'a code the query did not list',
      { stratify: [{ codes: { of: 'condition', in: [{ system: ICD, code: 'E11' }] } }] },
      { strata: [stratum({ codes: `${ICD}|B20` })] },
    ],
    [
      'the same stratum twice',
      { stratify: ['gender'] },
      { strata: [stratum({ gender: 'male' }), stratum({ gender: 'male' })] },
    ],
    ['a measure of another kind', {}, { measures: [{ type: 'summary', unit: '%', n: cell }] }],
    ['a measure too many', {}, { measures: [{ type: 'count' }, { type: 'count' }] }],
    ['no measure', {}, { measures: [] }],
    [
      'measures out of order',
      { measures: [histogram, { count: 'patients' }] },
      { measures: [{ type: 'count' }, bins([4, 6, 8])] },
    ],
    ['histogram bins on other edges', { measures: [histogram] }, { measures: [bins([4, 6, 9])] }],
    ['a histogram bin too many', { measures: [histogram] }, { measures: [bins([4, 6, 8, 10])] }],
    [
      'a histogram in another unit',
      { measures: [histogram] },
      { measures: [{ ...bins([4, 6, 8]), unit: 'mmol/mol' } as MeasureResult] },
    ],
    [
      'a summary in another unit',
      { measures: [{ summary: { observation, unit: '%' } }] },
      { measures: [{ type: 'summary', unit: 'kg', n: cell }] },
    ],
  ];

  it.each(rogue)('refuses %s', (_name, query, fields) => {
    expect(fits(query, fields)).toBe(false);
  });
});
