// Threat 50 at the command line: a query or policy file with a name twice in
// one object is refused with its pointer before any data is read, as the API
// and the service's start-up refuse it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runEvaluate } from './evaluate-command.ts';

const COHORT = '{"patient":{"deceased":false}}';

describe('tessera-node evaluate with a name twice in one object (threat 50)', () => {
  let dir: string;
  let errors: string[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-evaluate-'));
    errors = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => errors.push(String(line)));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  }

  it('refuses the query file, naming the duplicate, without opening the store', async () => {
    const query = await file(
      'q.json',
      `{"version":1,"cohort":${COHORT},"cohort":{"patient":{"gender":["female"]}}}`,
    );
    const db = join(dir, 'absent.duckdb');
    expect(await runEvaluate(['--db', db, '--query', query])).toBe(1);
    expect(errors).toEqual([
      expect.stringMatching(/^tessera-node: ERR_QUERY_INVALID at \/cohort: /),
    ]);
  });

  it('refuses the policy file, naming the duplicate', async () => {
    const query = await file('q.json', `{"version":1,"cohort":${COHORT}}`);
    const policy = await file('policy.json', '{"threshold":10,"threshold":1}');
    const db = join(dir, 'absent.duckdb');
    expect(await runEvaluate(['--db', db, '--query', query, '--policy', policy])).toBe(1);
    expect(errors).toEqual([expect.stringMatching(/^tessera-node: configuration \/threshold: /)]);
  });

  it('says what is wrong with a query file that is not JSON', async () => {
    const query = await file('q.json', '{"version":1,');
    expect(await runEvaluate(['--db', join(dir, 'absent.duckdb'), '--query', query])).toBe(1);
    expect(errors).toEqual([expect.stringMatching(/^tessera-node: ERR_BODY_INVALID: /)]);
  });
});
