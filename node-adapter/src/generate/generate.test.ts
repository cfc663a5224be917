// The generator's determinism and arguments, on small regions; the plausibility
// of a large region and its ingest are in generate.int.test.ts.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { dayToIso, isoToDay } from './calendar.ts';
import { generateRegion } from './generate.ts';
import { createRng } from './prng.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-generate-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function files(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

describe('the PRNG and calendar', () => {
  test('the same seed gives the same stream; another seed another stream', () => {
    const a = createRng(1, 2);
    const b = createRng(1, 2);
    const c = createRng(1, 3);
    const draws = (r: typeof a) => Array.from({ length: 5 }, () => r.next());
    const first = draws(a);
    expect(draws(b)).toEqual(first);
    expect(draws(c)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
  test('day numbers round-trip through ISO dates', () => {
    for (const iso of ['1970-01-01', '2000-02-29', '1899-12-31', '2026-01-01'])
      expect(dayToIso(isoToDay(iso))).toBe(iso);
  });
});

describe('generateRegion', () => {
  test('the same seed writes the same bytes; another seed other bytes', async () => {
    const [a, b, c] = [await tempDir(), await tempDir(), await tempDir()];
    await generateRegion({ region: 'toscana', patients: 300, seed: 7, outDir: a });
    await generateRegion({ region: 'toscana', patients: 300, seed: 7, outDir: b });
    await generateRegion({ region: 'toscana', patients: 300, seed: 8, outDir: c });
    const [fa, fb, fc] = [await files(a), await files(b), await files(c)];
    expect([...fa.keys()]).toEqual([...fb.keys()]);
    for (const [name, bytes] of fa)
      expect(bytes.equals(fb.get(name) ?? Buffer.alloc(0)), name).toBe(true);
    expect(
      fa.get('Patient.000.ndjson')?.equals(fc.get('Patient.000.ndjson') ?? Buffer.alloc(0)),
    ).toBe(false);
  });

  test("a patient's record does not depend on how many patients follow, nor on file splitting", async () => {
    const [small, large, split] = [await tempDir(), await tempDir(), await tempDir()];
    await generateRegion({ region: 'galicia', patients: 50, seed: 3, outDir: small });
    await generateRegion({ region: 'galicia', patients: 600, seed: 3, outDir: large });
    const report = await generateRegion({
      region: 'galicia',
      patients: 600,
      seed: 3,
      outDir: split,
      linesPerFile: 2000,
    });
    const smallPatients = (await readFile(join(small, 'Patient.000.ndjson'), 'utf8'))
      .split('\n')
      .slice(0, 50);
    const largePatients = (await readFile(join(large, 'Patient.000.ndjson'), 'utf8'))
      .split('\n')
      .slice(0, 50);
    expect(largePatients).toEqual(smallPatients);

    expect(report.files).toContain('Observation.001.ndjson');
    const parts = report.files.filter((f) => f.startsWith('Observation.')).sort();
    const concatenated = Buffer.concat(
      await Promise.all(parts.map((f) => readFile(join(split, f)))),
    );
    expect(concatenated.equals(await readFile(join(large, 'Observation.000.ndjson')))).toBe(true);
  });

  test('a smaller run into the same directory leaves no stale files behind', async () => {
    const dir = await tempDir();
    await generateRegion({
      region: 'sachsen',
      patients: 300,
      seed: 1,
      outDir: dir,
      linesPerFile: 1000,
    });
    const report = await generateRegion({ region: 'sachsen', patients: 10, seed: 1, outDir: dir });
    expect((await readdir(dir)).sort()).toEqual([...report.files].sort());
  });

  test('invalid arguments are refused', async () => {
    const dir = await tempDir();
    await expect(
      generateRegion({ region: 'lombardia', patients: -1, seed: 1, outDir: dir }),
    ).rejects.toThrow(RangeError);
    await expect(
      generateRegion({ region: 'lombardia', patients: 1, seed: 2 ** 32, outDir: dir }),
    ).rejects.toThrow(RangeError);
  });
});
