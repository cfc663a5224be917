// Threat 56: the hygiene headers are on every answer, a 404 and a thrown
// error included, and a route can loosen the policy for a page.
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { problemHandler } from './problem.ts';
import { API_CSP, PAGE_CSP, pageCsp, securityHeaders } from './security-headers.ts';

function app() {
  const server = express();
  server.use(securityHeaders());
  server.get('/data', (_req, res) => {
    res.json({ count: 1 });
  });
  server.get('/page', (_req, res) => {
    res.set('content-security-policy', PAGE_CSP).type('html').send('<!doctype html>');
  });
  server.get('/boom', () => {
    throw new Error('boom');
  });
  server.use(problemHandler({ logger: { error: () => undefined } }));
  return server;
}

describe('securityHeaders', () => {
  for (const path of ['/data', '/boom']) {
    it(`sets nosniff, no referrer, no-store and the deny-all policy on ${path}`, async () => {
      const res = await request(app()).get(path);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toBe(API_CSP);
    });
  }

  it('leaves the default 404 of Express at least as strict', async () => {
    const res = await request(app()).get('/missing');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
  });

  it('keeps the page policy strict', async () => {
    const res = await request(app()).get('/page');
    const policy = String(res.headers['content-security-policy']);
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("base-uri 'none'");
    expect(policy).toContain("form-action 'self'");
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:/);
  });
});

describe('pageCsp', () => {
  it('lets the page call the origins it names and nothing else', () => {
    const policy = pageCsp(['http://127.0.0.1:4000', 'https://idp.example']);
    expect(policy).toContain("connect-src 'self' http://127.0.0.1:4000 https://idp.example;");
    expect(policy).toContain("script-src 'self';");
    expect(pageCsp()).toBe(PAGE_CSP);
  });

  it('refuses anything but a bare origin, which could widen or break the policy', () => {
    for (const bad of [
      '*',
      'https://idp.example/path',
      "https://a.example; script-src 'unsafe-inline'",
      'data:',
    ]) {
      expect(() => pageCsp([bad]), bad).toThrow(/bare origin/);
    }
  });
});
