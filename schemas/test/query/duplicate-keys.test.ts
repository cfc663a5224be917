// Threat 50: JSON with a name twice in one object. JSON.parse keeps the last,
// so a reviewer reading the first and a service evaluating the second would
// disagree about the query. Every body and configuration file is scanned for
// duplicate names before it is used.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ProblemError,
  duplicateKeyPointer,
  parseJsonBody,
  parseJsonText,
} from '../../src/index.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('duplicate names in JSON (threat 50)', () => {
  it('refuses a query body with a duplicate name, with a pointer to it', () => {
    const cases: [string, string][] = [
      ['{"cohort":{"patient":{}},"cohort":{"condition":{}}}', '/cohort'],
      ['{"query":{"version":1,"cohort":{},"cohort":{}}}', '/query/cohort'],
      ['{"a":[{"b":1},{"c":{"d":1,"d":2}}]}', '/a/1/c/d'],
      ['{"a":1,"\\u0061":2}', '/a'],
      ['{"x/y~":{"k":1,"k":1}}', '/x~1y~0/k'],
      ['{"":1,"":2}', '/'],
    ];
    for (const [text, pointer] of cases) {
      let caught: unknown;
      try {
        parseJsonBody(bytes(text));
      } catch (err) {
        caught = err;
      }
      expect(caught, text).toBeInstanceOf(ProblemError);
      expect(caught).toMatchObject({ status: 400, code: 'ERR_QUERY_INVALID', pointer });
    }
  });

  it('accepts the same name in different objects, and strings that look like names', () => {
    const text = '{"a":{"k":1},"b":{"k":2},"c":["k","k"],"d":"\\"k\\":","k":{"k":{"k":3}}}';
    expect(parseJsonBody(bytes(text))).toEqual(JSON.parse(text));
  });

  it('agrees with JSON.parse on valid JSON without duplicates', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (value, space) => {
        const text = JSON.stringify(value, null, space);
        expect(duplicateKeyPointer(text)).toBeUndefined();
        expect(parseJsonText(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('finds a duplicate added to any object of a valid document', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }),
        fc.jsonValue(),
        (object, extra) => {
          const key = Object.keys(object)[0]!;
          const text = JSON.stringify({ outer: [object] });
          // Append the first name again at the end of the inner object.
          const withDuplicate = `${text.slice(0, -3)},${JSON.stringify(key)}:${JSON.stringify(extra)}}]}`;
          expect(duplicateKeyPointer(withDuplicate)).toBe(
            `/outer/0/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
