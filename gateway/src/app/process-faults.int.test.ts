// The process fault handlers in a real child process: a stray rejection in
// a process with a listening server ends it in order, with exit code 1.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('exitOnProcessFaults', () => {
  it('in a real process: a stray rejection is logged, the server closed, and the exit code is 1', async () => {
    const module = fileURLToPath(new URL('./process-faults.ts', import.meta.url));
    // The process the handlers protect: a listening server and a promise nobody handles.
    const script = `
      import { createServer } from 'node:http';
      import pino from 'pino';
      import { exitOnProcessFaults } from ${JSON.stringify(module)};
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        exitOnProcessFaults(process, {
          logger: pino(),
          stop: (code) => server.close(() => { process.exitCode = code; console.error('server closed'); }),
        });
        void Promise.reject(new Error('nobody handles this'));
      });
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('server closed');
    const line = JSON.parse(stdout.trim().split('\n')[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 60,
      fault: 'unhandledRejection',
      err: { message: 'nobody handles this' },
    });
  });
});
