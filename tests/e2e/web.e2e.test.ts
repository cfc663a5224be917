// The researcher's web page in a real browser (Debian's Chromium, driven by
// playwright-core) against a real federation: paste a token, pick an
// example, run it, watch the nodes answer and read the merged table.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
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

    await page.goto(`${fed.gatewayUrl}/`);
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

    expect(failures).toEqual([]);
    await page.close();
  });
});
