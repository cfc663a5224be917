// The researcher's web page in a real browser (Debian's Chromium, driven by
// playwright-core) against a real federation: paste a token, pick an
// example, run it, watch the nodes answer and read the merged table. Threat
// 56: all of it under the gateway's strict Content-Security-Policy, with no
// violation, and nothing (above all the token) written to web storage.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Response, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import { CHROMIUM, requireChromium } from '../support/requirements.ts';

const browserAvailable = await requireChromium();

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const VIEWPORT = { width: 1280, height: 900 };

describe.skipIf(browserAvailable.skip)('the web page in Chromium', () => {
  let fed: Federation;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-web-'));
    [fed, browser] = await Promise.all([
      startFederation({
        regions: [
          { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
          { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
        ],
      }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await fed?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs an example query and shows every node and the merged table', async () => {
    const page = await browser.newPage({ viewport: VIEWPORT });
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('console', (msg) => {
      // Failed loads are checked by their responses below (the browser asks for a favicon).
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        failures.push(msg.text());
      }
    });
    const responses: Response[] = [];
    page.on('response', (res) => responses.push(res));
    // Every CSP violation the page causes, as the browser reports it (the
    // scripts run in the page, so they are given as text: no DOM types here).
    await page.addInitScript({
      content: `
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
        });`,
    });

    const main = await page.goto(`${fed.gatewayUrl}/`);
    expect(main?.status()).toBe(200);
    await expect.poll(() => page.title()).toMatch(/Tessera/);
    await page.fill('#token', await fed.tokenFor('diabetes-eu'));
    await page.fill('#project', 'diabetes-eu');
    await page.selectOption('#example', { label: 'Hypertension by gender' });
    const query = JSON.parse(await page.inputValue('#query')) as { version: number };
    expect(query.version).toBe(1);

    await page.click('#run');
    await page.waitForSelector('#result-table', { timeout: 60_000 });

    const progress = await page.locator('#node-progress li').allTextContents();
    expect(progress).toHaveLength(fed.nodes.length);
    for (const node of fed.nodes) {
      expect(progress.some((line) => line.startsWith(`${node.id}: ok`))).toBe(true);
    }
    const headings = await page.locator('#result-table thead th').allTextContents();
    expect(headings.slice(0, 2)).toEqual(['gender', 'merged']);
    expect(headings.slice(2).sort()).toEqual(fed.nodes.map((n) => n.id).sort());
    const firstRow = page.locator('#result-table tbody tr').first();
    expect(await firstRow.locator('td').first().textContent()).toBe('total');
    const merged = await firstRow.locator('td.merged').textContent();
    expect(merged).toMatch(/\d/);
    expect(await page.locator('#result-table tbody tr').count()).toBe(5); // total + 4 genders
    expect(await page.locator('#status').textContent()).toMatch(/all nodes answered/);
    expect(await page.locator('#downloads').isVisible()).toBe(true);

    const screenshot = join(dir, 'result.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = await readFile(screenshot);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.length).toBeGreaterThan(10_000);
    expect(png.length).toBeLessThan(20_000_000);
    // IHDR: width and height, big-endian, right after the signature and chunk header.
    expect(png.readUInt32BE(16)).toBe(VIEWPORT.width);
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(VIEWPORT.height);

    // The catalogue form and a download, too, under the policy.
    await page.fill('#cat-q', 'diabetes');
    const [catalogue] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/catalogue'),
      page.click('#catalogue-form button[type=submit]'),
    ]);
    expect(catalogue.status()).toBe(200);
    const [csv] = await Promise.all([
      page.waitForResponse((r) => r.request().headers().accept === 'text/csv'),
      page.click('#csv'),
    ]);
    expect(csv.status()).toBe(200);

    // The token lives in the page's memory only.
    expect(await page.evaluate('[sessionStorage.length, localStorage.length]')).toEqual([0, 0]);
    expect(await page.evaluate('window.__cspViolations')).toEqual([]);
    expect(failures).toEqual([]);
    // The canary: an injected inline script is blocked, and the listener sees it.
    await page.evaluate(
      `{ const s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.append(s); }`,
    );
    await expect.poll(() => page.evaluate('window.__cspViolations.length')).toBe(1);
    expect(await page.evaluate('window.__ran === true')).toBe(false);

    // Every answer the page got carries the browser hygiene headers; API
    // answers carrying results are never stored by a cache.
    const gatewayAnswers = responses.filter((r) => r.url().startsWith(fed.gatewayUrl));
    expect(gatewayAnswers.length).toBeGreaterThan(5);
    for (const res of gatewayAnswers) {
      const headers = await res.allHeaders();
      const where = `${res.request().method()} ${new URL(res.url()).pathname}`;
      if (!where.endsWith('/favicon.ico')) expect(res.status(), where).toBeLessThan(400);
      expect(headers['x-content-type-options'], where).toBe('nosniff');
      expect(headers['referrer-policy'], where).toBe('no-referrer');
      expect(headers['content-security-policy'], where).toBeDefined();
      if (new URL(res.url()).pathname.startsWith('/v1/')) {
        expect(headers['cache-control'], where).toMatch(/\bno-store\b/);
      }
    }
    const policy = (await main!.allHeaders())['content-security-policy'] ?? '';
    const directives = new Map(
      policy.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')] as const;
      }),
    );
    expect(directives.get('default-src')).toBe("'self'");
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('base-uri')).toBe("'none'");
    expect(directives.get('form-action')).toBe("'self'");
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:/);
    await page.close();
  });

  it('serves a page the policy needs no exception for, with the hygiene headers on every asset', async () => {
    const html = await (await fetch(`${fed.gatewayUrl}/`)).text();
    // No inline script, no inline style, no event-handler attributes.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    for (const path of [
      '/',
      '/index.html',
      '/app.js',
      '/format.js',
      '/style.css',
      '/examples.json',
      '/openapi.json',
      '/no-such-file',
    ]) {
      const res = await fetch(`${fed.gatewayUrl}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('content-security-policy'), path).toMatch(/frame-ancestors 'none'/);
    }
    // Results read outside the page: JSON, CSV, MeasureReport, the job list.
    const token = await fed.tokenFor('diabetes-eu');
    const auth = { authorization: `Bearer ${token}`, 'x-tessera-project': 'diabetes-eu' };
    const submitted = await fetch(`${fed.gatewayUrl}/v1/queries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1, cohort: { patient: { gender: ['female'] } } }),
    });
    expect(submitted.headers.get('cache-control')).toMatch(/\bno-store\b/);
    const { id } = (await submitted.json()) as { id: string };
    for (const accept of ['application/json', 'text/csv', 'application/fhir+json']) {
      const res = await fetch(`${fed.gatewayUrl}/v1/queries/${id}`, {
        headers: { ...auth, accept },
      });
      expect(res.headers.get('cache-control'), accept).toMatch(/\bno-store\b/);
      expect(res.headers.get('x-content-type-options'), accept).toBe('nosniff');
    }
    for (const path of ['/v1/queries', '/v1/catalogue', '/v1/nodes']) {
      const res = await fetch(`${fed.gatewayUrl}${path}`, { headers: auth });
      expect(res.headers.get('cache-control'), path).toMatch(/\bno-store\b/);
    }
  });
});
