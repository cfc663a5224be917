// Threat 24: a researcher querying a project or node they are not authorised
// for gets 403, decided before any node is contacted (authorize is pure and
// runs first; the fan-out tests pin that no request leaves on a 403).
import { describe, expect, it } from 'vitest';
import { authorize } from './authorize.ts';
import type { AccessPolicy } from './authorize.ts';

const alice = { sub: 'alice', projects: ['diabetes-eu', 'cardio'], scopes: ['tessera:query'] };
const policy: AccessPolicy = {
  projectNodes: {
    'diabetes-eu': ['lombardia', 'galicia', 'sachsen'],
    cardio: [],
    oncology: ['toscana'],
  },
};

function forbidden(run: () => unknown) {
  expect(run).toThrow(expect.objectContaining({ status: 403, code: 'ERR_FORBIDDEN' }));
}

describe('threat 24: authorisation of project and nodes', () => {
  it('allows the requested nodes of a project the researcher holds', () => {
    expect(authorize(alice, 'diabetes-eu', ['galicia', 'lombardia'], policy)).toEqual([
      'galicia',
      'lombardia',
    ]);
  });

  it('gives all of the project nodes when none are named', () => {
    expect(authorize(alice, 'diabetes-eu', undefined, policy)).toEqual([
      'lombardia',
      'galicia',
      'sachsen',
    ]);
  });

  it('drops repeated node ids', () => {
    expect(authorize(alice, 'diabetes-eu', ['galicia', 'galicia'], policy)).toEqual(['galicia']);
  });

  it('refuses a project the researcher does not hold, even one the policy knows', () => {
    forbidden(() => authorize(alice, 'oncology', ['toscana'], policy));
  });

  it('refuses a node the project may not use, even alongside allowed ones', () => {
    forbidden(() => authorize(alice, 'diabetes-eu', ['lombardia', 'toscana'], policy));
    forbidden(() => authorize(alice, 'diabetes-eu', ['dolnoslaskie'], policy));
  });

  it('refuses a held project that the policy gives no nodes or does not list', () => {
    forbidden(() => authorize(alice, 'cardio', undefined, policy));
    const bob = { ...alice, projects: ['unlisted'] };
    forbidden(() => authorize(bob, 'unlisted', undefined, policy));
  });

  it('refuses an empty node list', () => {
    forbidden(() => authorize(alice, 'diabetes-eu', [], policy));
  });

  it('does not let prototype keys stand in for a project', () => {
    for (const project of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const mallory = { ...alice, projects: [project] };
      forbidden(() => authorize(mallory, project, undefined, policy));
      forbidden(() => authorize(mallory, project, ['lombardia'], policy));
    }
  });
});
