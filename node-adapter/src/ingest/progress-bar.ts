// A one-line progress bar for the commands, redrawn in place on a terminal
// (at most ten times a second) and silent elsewhere, where logs want lines.

export interface TextOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressBar {
  update(done: number, total: number, note: string): void;
  /** Clears the bar so the next output starts on a clean line. */
  finish(): void;
}

const WIDTH = 24;

export function createProgressBar(out: TextOutput, now: () => number = Date.now): ProgressBar {
  if (out.isTTY !== true) return { update: () => undefined, finish: () => undefined };
  let last = 0;
  let drawn = false;
  return {
    update(done, total, note) {
      const t = now();
      if (t - last < 100 && done < total) return;
      last = t;
      const share = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(share * WIDTH);
      const line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${note}`;
      const columns = out.columns ?? 100;
      out.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
      drawn = true;
    },
    finish() {
      if (drawn) out.write(`\r${' '.repeat((out.columns ?? 100) - 1)}\r`);
      drawn = false;
    },
  };
}

/** Bytes for people: `1.2 GB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
