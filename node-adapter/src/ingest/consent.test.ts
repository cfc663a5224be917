import { describe, expect, it } from 'vitest';
import { flattenConsent } from './consent.ts';
import { flattenResource } from './flatten.ts';

const POLICY = 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3';
const code = (c: string) => [{ coding: [{ system: POLICY, code: c }] }];

describe('flattenConsent', () => {
  it('reads every provision with a decision and a code, inheriting the nearest period', () => {
    const flat = flattenResource({
      resourceType: 'Consent',
      id: 'c1',
      status: 'active',
      patient: { reference: 'Patient/p1' },
      provision: {
        type: 'deny',
        period: { start: '2020-01-01', end: '2050-01-01T00:00:00+01:00' },
        provision: [
          { type: 'permit', code: code('a') },
          { type: 'deny', period: { start: '2021-02' }, code: code('b') },
          { code: code('no-type') },
          { type: 'permit', provision: [{ type: 'permit', code: code('deep') }] },
        ],
      },
    });
    expect(flat).toEqual({
      type: 'consent',
      resourceId: 'c1',
      patientId: 'p1',
      provisions: expect.arrayContaining([
        {
          decision: 'permit',
          start: '2020-01-01',
          end: '2050-01-01',
          codings: [{ system: POLICY, code: 'a' }],
        },
        {
          decision: 'deny',
          start: '2021-02-01',
          end: null,
          codings: [{ system: POLICY, code: 'b' }],
        },
        {
          decision: 'permit',
          start: '2020-01-01',
          end: '2050-01-01',
          codings: [{ system: POLICY, code: 'deep' }],
        },
      ]),
    });
    expect(flat.type === 'consent' && flat.provisions).toHaveLength(3);
  });

  it('keeps only active Consents, and reads R5 subject', () => {
    const consent = (status: string) => ({
      resourceType: 'Consent',
      status,
      subject: { reference: 'Patient/p2' },
      provision: { type: 'permit', code: code('a') },
    });
    for (const status of ['draft', 'proposed', 'rejected', 'inactive']) {
      expect(flattenConsent(consent(status), 'c')).toEqual({
        type: 'skipped',
        reason: 'consent not active',
      });
    }
    expect(flattenResource({ ...consent('entered-in-error'), id: 'c' })).toEqual({
      type: 'skipped',
      reason: 'entered-in-error',
    });
    expect(flattenConsent(consent('active'), 'c')).toMatchObject({
      type: 'consent',
      patientId: 'p2',
    });
  });

  it('skips a Consent without a patient by reason, as any resource tied to no patient', () => {
    expect(flattenConsent({ resourceType: 'Consent', status: 'active' }, 'c')).toEqual({
      type: 'skipped',
      reason: 'no subject',
    });
    expect(
      flattenConsent({ resourceType: 'Consent', status: 'active', patient: { display: 'x' } }, 'c'),
    ).toEqual({ type: 'skipped', reason: 'subject without reference' });
  });

  it('walks any depth of nesting without recursion', () => {
    let provision: Record<string, unknown> = { type: 'permit', code: code('leaf') };
    for (let i = 0; i < 20_000; i++) provision = { provision: [provision] };
    const flat = flattenConsent(
      { resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/p' }, provision },
      'c',
    );
    expect(flat.type === 'consent' && flat.provisions.map((p) => p.codings[0]?.code)).toEqual([
      'leaf',
    ]);
  });
});
