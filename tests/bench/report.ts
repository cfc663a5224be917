// Shared by the benchmarks: the machine they ran on, aligned Markdown
// tables, and docs/benchmarks.md, where each benchmark owns one `## ` section.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCHMARKS_DOC = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));

export interface Machine {
  readonly cores: number;
  readonly memoryGiB: number;
  readonly cpu: string;
  readonly node: string;
  /** 1-minute load average when the benchmark started. */
  readonly load: number;
}

function command(file: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(file, [...args], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

/** `nproc`, `free -g` (total memory), the CPU model and the Node version. */
export function describeMachine(): Machine {
  const nproc = Number(command('nproc', []));
  const mem = /^Mem:\s+(\d+)/m.exec(command('free', ['-g']) ?? '')?.[1];
  return {
    cores: Number.isInteger(nproc) && nproc > 0 ? nproc : cpus().length,
    memoryGiB: mem === undefined ? Math.round(totalmem() / 2 ** 30) : Number(mem),
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    node: process.version,
    load: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export function machineLine(m: Machine, duckdb?: string): string {
  const parts = [`${m.cores} cores (\`nproc\`, ${m.cpu})`, `${m.memoryGiB} GiB RAM (\`free -g\`)`];
  parts.push(`Node ${m.node}`);
  if (duckdb !== undefined) parts.push(`DuckDB ${duckdb}`);
  return parts.join(', ');
}

export type Align = 'left' | 'right';

/**
 * A Markdown table padded the way Prettier pads one, so the file stays formatted.
 * @example markdownTable(['a', 'b'], [['1', '2']], ['left', 'right'])
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = headers.map((h, i) =>
    Math.max(3, h.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        return align[i] === 'right' ? cell.padStart(w) : cell.padEnd(w);
      })
      .join(' | ')} |`;
  const rule = `| ${widths
    .map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)))
    .join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function docHeader(machine: Machine): string {
  return `# Benchmarks

Measured figures of Tessera's components, each section written by its
benchmark (\`npm run bench -- <name>\`, source in \`tests/bench/\`). A run
replaces only its own section, so sections may come from different days;
each names its exact command, machine and date. Benchmarks time things and
print them; they assert nothing (they are not tests) and compare their
figures with the product's targets beside them.

Machine when this file was created: ${machineLine(machine)}.
Latencies are wall-clock times of sequential calls in one process, medians
and 95th percentiles after warm-up runs; the machine may have been running
other work, so each section records the load average at its start.
`;
}

/**
 * Writes `## heading` and its body into docs/benchmarks.md, replacing that
 * section (up to the next `## ` heading) and keeping every other one.
 */
export async function writeDocSection(
  heading: string,
  body: string,
  machine: Machine,
): Promise<void> {
  const section = `## ${heading}\n\n${body.trim()}\n`;
  const current = existsSync(BENCHMARKS_DOC)
    ? await readFile(BENCHMARKS_DOC, 'utf8')
    : docHeader(machine);
  const lines = current.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === `## ${heading}`);
  let next: string;
  if (start === -1) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join('\n').trimEnd();
    const after = lines.slice(end).join('\n').trim();
    next = `${before}\n\n${section}${after === '' ? '' : `\n${after}\n`}`;
  }
  await writeFile(BENCHMARKS_DOC, next);
}
