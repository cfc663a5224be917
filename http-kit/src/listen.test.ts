import express from 'express';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from './listen.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('listen', () => {
  it('binds any free port when asked for 0 and reports the URL it got', async () => {
    const app = express();
    app.get('/', (_req, res) => {
      res.send('hello');
    });
    const { server, url } = await listen(app, '127.0.0.1', 0);
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url.endsWith(':0')).toBe(false);
    expect(await (await fetch(url)).text()).toBe('hello');
  });

  it('rejects when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => taken.close(() => resolve())));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await expect(listen(express(), '127.0.0.1', port)).rejects.toThrow(/EADDRINUSE/);
  });
});
