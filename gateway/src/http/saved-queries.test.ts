// Saved queries over HTTP: saved by a member of a project, read by the link's
// id by any member of that project, by no one else, and never with figures.
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from '@tessera/http-kit';
import type { Researcher } from '../auth/researcher.ts';
import { createSavedQueryService } from '../saved/saved-queries.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { savedQueriesRouter } from './saved-queries.ts';

const QUERY = { version: 1, cohort: { patient: { gender: ['female'] } }, label: 'Women' };
const researchers: Record<string, Researcher> = {
  anna: { sub: 'anna', projects: ['diabetes-eu'], scopes: ['tessera:query'] },
  ben: { sub: 'ben', projects: ['diabetes-eu', 'oncology'], scopes: ['tessera:query'] },
  carla: { sub: 'carla', projects: ['oncology'], scopes: ['tessera:query'] },
};

function app() {
  const store = createMemoryStore();
  const saved = createSavedQueryService({
    store,
    projects: { 'diabetes-eu': { maxStrata: 200 }, oncology: { maxStrata: 200 } },
  });
  const server = express();
  server.use((req, res, next) => {
    res.locals.researcher = researchers[req.get('x-researcher') ?? ''];
    next();
  });
  server.use(savedQueriesRouter({ saved, publicUrl: 'https://gw.test', bodyLimitBytes: 65_536 }));
  server.use(problemHandler({ logger: pino({ level: 'silent' }) }));
  const as = (who: string) => ({
    save: (body: unknown, project?: string) => {
      const req = request(server).post('/v1/saved-queries').set('x-researcher', who);
      return (project ? req.set('x-tessera-project', project) : req).send(body as object);
    },
    get: (id: string) => request(server).get(`/v1/saved-queries/${id}`).set('x-researcher', who),
    list: () => request(server).get('/v1/saved-queries').set('x-researcher', who),
    remove: (id: string) =>
      request(server).delete(`/v1/saved-queries/${id}`).set('x-researcher', who),
  });
  return { as };
}

describe('saved queries', () => {
  it('are shared by link with the members of their project', async () => {
    const { as } = app();
    const res = await as('anna').save({ name: 'Women, all nodes', query: QUERY });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Women, all nodes',
      project: 'diabetes-eu',
      owner: 'anna',
    });
    expect(res.body.links.share).toBe(`https://gw.test/?saved=${res.body.id}`);
    expect(res.headers.location).toBe(`https://gw.test/v1/saved-queries/${res.body.id}`);
    const read = await as('ben').get(res.body.id);
    expect(read.status).toBe(200);
    expect(read.body.query).toEqual(QUERY);
  });

  it('cannot be read by a researcher of another project: not found, as if it did not exist', async () => {
    const { as } = app();
    const { body } = await as('anna').save({ name: 'Women', query: QUERY });
    const read = await as('carla').get(body.id);
    expect(read.status).toBe(404);
    expect(read.body.code).toBe('ERR_NOT_FOUND');
    expect(read.body).not.toHaveProperty('query');
    const unknown = await as('carla').get('00000000-0000-4000-8000-000000000000');
    expect({ status: unknown.status, code: unknown.body.code }).toEqual({
      status: read.status,
      code: read.body.code,
    });
  });

  it('are saved only for a project of the researcher', async () => {
    const { as } = app();
    const res = await as('anna').save({ name: 'Elsewhere', query: QUERY, project: 'oncology' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
    const several = await as('ben').save({ name: 'Which project?', query: QUERY });
    expect(several.body.code).toBe('ERR_PROJECT_REQUIRED');
    const chosen = await as('ben').save({ name: 'Oncology', query: QUERY }, 'oncology');
    expect(chosen.status).toBe(201);
    expect(chosen.body.project).toBe('oncology');
  });

  it('hold a question only: figures, a missing name or an invalid query are refused at their pointer', async () => {
    const { as } = app();
    const figures = await as('anna').save({ name: 'n', query: QUERY, result: { total: 12 } });
    expect(figures.status).toBe(400);
    expect(figures.body).toMatchObject({ code: 'ERR_SAVED_QUERY_INVALID', pointer: '/result' });
    const nameless = await as('anna').save({ name: '  ', query: QUERY });
    expect(nameless.body).toMatchObject({ code: 'ERR_SAVED_QUERY_INVALID', pointer: '/name' });
    const bad = await as('anna').save({
      name: 'bad',
      query: { version: 1, cohort: { nothing: {} } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('ERR_QUERY_INVALID');
    expect(bad.body.pointer).toMatch(/^\/query\/cohort/);
  });

  it('are listed for their owner and deleted by their owner only', async () => {
    const { as } = app();
    const { body } = await as('anna').save({ name: 'Mine', query: QUERY });
    expect((await as('ben').list()).body.savedQueries).toEqual([]);
    const mine = (await as('anna').list()).body as { savedQueries: { id: string }[] };
    expect(mine.savedQueries.map((s) => s.id)).toEqual([body.id]);
    expect((await as('ben').remove(body.id)).status).toBe(404);
    expect((await as('anna').remove(body.id)).status).toBe(204);
    expect((await as('anna').get(body.id)).status).toBe(404);
  });
});
