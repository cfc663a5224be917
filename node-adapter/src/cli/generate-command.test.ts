import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { runGenerate } from './generate-command.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function captureIo() {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    out: () => out,
    err: () => err,
  };
}

describe('tessera-node generate', () => {
  test('writes a region and summarises it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-generate-cli-'));
    dirs.push(dir);
    const io = captureIo();
    const code = await runGenerate(
      ['--region', 'galicia', '--patients', '25', '--seed', '9', '--out', dir],
      io,
    );
    expect(code).toBe(0);
    expect(io.out()).toContain('Patient: 25');
    expect(io.out()).toMatch(/25 patients of galicia in \d+ files/);
    expect(await readdir(dir)).toContain('Patient.000.ndjson');
  });

  test('bad arguments are usage errors', async () => {
    for (const args of [
      ['--region', 'atlantis', '--patients', '1', '--seed', '1', '--out', 'x'],
      ['--region', 'galicia', '--patients', '-3', '--seed', '1', '--out', 'x'],
      ['--region', 'galicia', '--patients', '1', '--seed', '99999999999', '--out', 'x'],
      ['--region', 'galicia', '--patients', '1', '--seed', '1'],
      [
        '--region',
        'galicia',
        '--patients',
        '1',
        '--seed',
        '1',
        '--out',
        'x',
        '--reference-date',
        'soon',
      ],
    ]) {
      const io = captureIo();
      expect(await runGenerate(args, io), args.join(' ')).toBe(2);
      expect(io.err()).toContain('Usage: tessera-node generate');
    }
    const help = captureIo();
    expect(await runGenerate(['--help'], help)).toBe(0);
    expect(help.out()).toContain('lombardia, galicia, sachsen, dolnoslaskie, toscana');
  });
});
