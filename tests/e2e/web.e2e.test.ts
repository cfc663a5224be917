// The researcher's web page in a real browser (Debian's Chromium, driven by
// playwright-core) against a real federation of three nodes and a real
// OpenID provider: sign in with the authorization code flow, build a query
// in the builder, run it, watch the nodes answer, read the merged table and
// its chart, export it; a histogram, a pasted CCDL document, a misspelt code,
// a session that ends mid-build, a phone-sized screen and a stopped node.
// Threat 56: all of it under the gateway's strict Content-Security-Policy,
// with no violation and no token in web storage; axe-core finds no serious
// or critical accessibility fault in any state. Each test leaves a
// screenshot in tests/e2e/screenshots/ for a person to look at.
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergedResult } from '@tessera/schemas';
import { buildWeb } from '@tessera/gateway/web-build';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import { REPO_ROOT } from '../support/paths.ts';
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
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const SCREENSHOTS = join(REPO_ROOT, 'tests/e2e/screenshots');
const AXE_SOURCE = await readFile(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
/** Example 1 of docs/query-language.md. */
const EXAMPLE_1 = {
  version: 1,
  cohort: {
    all: [
      { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
      { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
    ],
  },
  stratify: [{ ageBand: [0, 18, 40, 65, 80] }],
};
/** A browser token lives 40 s, so the page renews it every 10 s while the tests run. */
const BROWSER_TOKEN_TTL_SEC = 40;
const RESULT_TIMEOUT_MS = 90_000;

describe.skipIf(browserAvailable.skip)('the web page in Chromium', () => {
  let fed: Federation;
  let browser: Browser;

  beforeAll(async () => {
    await Promise.all([buildWeb(), mkdir(SCREENSHOTS, { recursive: true })]);
    [fed, browser] = await Promise.all([
      startFederation({
        regions: [
          { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
          { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
          { id: 'sachsen', generate: { patients: 300, seed: 3303, region: 'sachsen' } },
        ],
        browserTokenTtlSec: BROWSER_TOKEN_TTL_SEC,
      }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await fed?.close();
  });

  /** A fresh page that records script errors and CSP violations. */
  async function openPage(viewport = DESKTOP): Promise<{ page: Page; failures: string[] }> {
    const page = await browser.newPage({ viewport, acceptDownloads: true });
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(err.message));
    page.on('console', (msg) => {
      // Failed loads are answers the tests check themselves (a 400 of a check, the favicon).
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
        failures.push(msg.text());
      }
    });
    await page.addInitScript({
      content: `
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
        });`,
    });
    return { page, failures };
  }

  async function fillSignIn(page: Page, name: string): Promise<void> {
    await page.waitForSelector('input[name=username]');
    await page.fill('input[name=username]', name);
    await page.fill('input[name=password]', name);
    await page.click('button[type=submit]');
    await page.waitForSelector('#sign-out', { timeout: 30_000 });
  }

  async function signIn(page: Page, name = 'rosa'): Promise<void> {
    await page.goto(`${fed.gatewayUrl}/`);
    await page.click('#sign-in');
    await fillSignIn(page, name);
  }

  async function queryJson(page: Page): Promise<unknown> {
    return JSON.parse(await page.inputValue('#query-json'));
  }

  /** The server's check has run on the current query and found it valid. */
  async function waitValid(page: Page): Promise<void> {
    await expect.poll(() => page.locator('#run').isEnabled(), { timeout: 30_000 }).toBe(true);
  }

  async function runAndWait(page: Page): Promise<void> {
    await waitValid(page);
    await page.click('#run');
    await page.waitForSelector('#downloads', { timeout: RESULT_TIMEOUT_MS });
  }

  /** axe-core's serious and critical violations, as `rule: targets`. */
  async function seriousViolations(page: Page): Promise<string[]> {
    await page.evaluate(AXE_SOURCE);
    return page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
      r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`);
  }

  async function settle(page: Page, name: string, failures: string[]): Promise<void> {
    expect(await seriousViolations(page), name).toEqual([]);
    expect(await page.evaluate('window.__cspViolations'), name).toEqual([]);
    expect(failures, name).toEqual([]);
    // No token in web storage: only the query draft, the language and a shared
    // link's saved-query id waiting for sign-in, which hold none.
    const stored = await page.evaluate<string[]>(
      'Object.keys(sessionStorage).concat(Object.keys(localStorage))',
    );
    expect(
      stored.every((key) =>
        ['tessera.draft', 'tessera.language', 'tessera.open-saved'].includes(key),
      ),
      name,
    ).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  it('signs in, builds example 1, runs it and shows every node, the merged table and a chart; exports CSV', async () => {
    const { page, failures } = await openPage();
    const main = await page.goto(`${fed.gatewayUrl}/`);
    expect(main?.status()).toBe(200);
    await expect.poll(() => page.title()).toMatch(/Tessera/);
    await settle(page, 'signed-out', failures);
    await page.click('#sign-in');
    await fillSignIn(page, 'rosa');
    expect(await page.textContent('#who')).toBe('rosa');
    expect(await page.inputValue('#project')).toBe('diabetes-eu');

    // Example 1, built field by field: an AND of a patient and a condition, by age band.
    await page.click('#clear-query');
    await page.selectOption('[data-add-to="/cohort"]', 'patient');
    await page.click('[data-add-button="/cohort"]');
    await page.check('[data-optional="/cohort/all/0/patient/age"]');
    await page.fill('[data-pointer="/cohort/all/0/patient/age/min"]', '40');
    await page.fill('[data-pointer="/cohort/all/0/patient/age/max"]', '79');
    await page.selectOption('[data-add-to="/cohort"]', 'condition');
    await page.click('[data-add-button="/cohort"]');
    await page.selectOption('[data-pointer="/cohort/all/1/condition/code/0/system"]', ICD10);
    await page.fill('[data-pointer="/cohort/all/1/condition/code/0/code"]', 'E11');
    await page.check('[data-pointer="/cohort/all/1/condition/code/0/descendants"]');
    await page.check('[data-dimension=ageBand]');
    expect(await queryJson(page)).toEqual(EXAMPLE_1);
    await waitValid(page);
    await settle(page, 'example-1-built', failures);

    await page.click('#run');
    await page.waitForSelector('#downloads', { timeout: RESULT_TIMEOUT_MS });
    const answered = page.locator('#node-progress li[data-status=ok]');
    expect(await answered.count()).toBe(3);
    for (const node of fed.nodes) {
      expect(
        await page.locator(`#node-progress li[data-node=${node.id}]`).getAttribute('data-status'),
      ).toBe('ok');
    }
    expect(await page.textContent('#status')).toMatch(/all nodes answered/);
    expect(await page.locator('#incomplete').count()).toBe(0);
    const headings = await page.locator('#result-table thead th').allTextContents();
    expect(headings.slice(0, 2)).toEqual(['age band', 'merged']);
    expect(headings.slice(2).sort()).toEqual(fed.nodes.map((n) => n.id).sort());
    const rows = page.locator('#result-table tbody tr');
    expect(await rows.count()).toBe(6); // total + 5 age bands
    expect(await rows.first().locator('th').textContent()).toBe('total');
    // Figures as people read them: a count with its interval, or a range below the threshold.
    for (const text of await page.locator('#result-table td.num').allTextContents()) {
      expect(text).toMatch(/^(\d[\d,]* \(\d[\d,]*–\d[\d,]*\)|< \d+|\d[\d,]*–\d[\d,]*|–)$/);
    }
    expect(await page.textContent('#result-table td.merged')).toMatch(/\d/);
    // The chart is Chart.js's canvas, drawn.
    const chart = page.locator('#strata-chart canvas');
    expect(await chart.getAttribute('aria-label')).toMatch(/age band/);
    expect(((await chart.boundingBox())?.height ?? 0) > 100).toBe(true);
    expect(await page.locator('#disclosure li').count()).toBe(3);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const csv = await readFile(await download.path(), 'utf8');
    expect(download.suggestedFilename()).toMatch(/^tessera-.+\.csv$/);
    expect(csv.split('\n')[0]).toMatch(/,/);
    expect(csv).toMatch(/40-64/);
    await settle(page, 'example-1-result', failures);
    // The result alone, as the README shows it.
    await page
      .locator('#results')
      .screenshot({ path: join(SCREENSHOTS, 'example-1-result-section.png') });

    // The canary: an injected inline script is blocked, and the listener sees it.
    await page.evaluate(
      `{ const s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.append(s); }`,
    );
    await expect.poll(() => page.evaluate('window.__cspViolations.length')).toBe(1);
    expect(await page.evaluate('window.__ran === true')).toBe(false);
    const policy = (await main!.allHeaders())['content-security-policy'] ?? '';
    expect(policy).toMatch(/default-src 'self'/);
    expect(policy).toContain(`connect-src 'self' ${new URL(fed.idp.issuer).origin}`);
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:/);
    await page.close();
  });

  /** One attribute of every element a locator finds, in order. */
  async function attributesOf(locator: Locator, name: string): Promise<(string | null)[]> {
    return Promise.all((await locator.all()).map((l) => l.getAttribute(name)));
  }

  /** The page is no wider than the screen. */
  async function expectNoOverflow(page: Page): Promise<void> {
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
  }

  it("searches the catalogue by name and by the start of a code, accents and case ignored, with each node's band", async () => {
    const { page, failures } = await openPage();
    await page.goto(`${fed.gatewayUrl}/`);
    const search = async (q: string): Promise<void> => {
      await page.fill('#cat-q', q);
      await page.click('#cat-search');
      await expect.poll(() => page.textContent('#cat-status')).toContain(q);
    };
    // By name: "DIABÈT" finds the ICD-10 code for type 2 diabetes (E11.9, held as E119) by its display.
    await search('DIABÈT');
    const e119 = page.locator('#code-results tbody tr[data-code="E119"]');
    await e119.waitFor();
    expect(await e119.locator('td').first().textContent()).toMatch(/type 2 diabetes/i);
    // Which nodes hold it, each with its band (a rounded count), never an exact one.
    const bands = await e119.locator('li[data-node]').allTextContents();
    expect(bands.length).toBeGreaterThan(0);
    for (const band of bands) expect(band).toMatch(/^(lombardia|galicia|sachsen): about \d/);
    // By the start of a code: E11 finds E11.9 (held as E119).
    await search('e11');
    await e119.waitFor();
    const codes = await attributesOf(page.locator('#code-results tbody tr'), 'data-code');
    expect(codes.every((c) => c?.startsWith('E11'))).toBe(true);
    await settle(page, 'catalogue-search', failures);
    await page.setViewportSize(PHONE);
    await expectNoOverflow(page);
    await page.setViewportSize(DESKTOP);
    // A search that finds nothing says so.
    await search('zzqxv');
    expect(await page.textContent('#cat-status')).toMatch(/No code or name .* matches .zzqxv./);
    expect(await page.locator('#code-results').count()).toBe(0);
    await settle(page, 'catalogue-search-nothing', failures);
    await page.close();
  });

  it('keeps history to edit and run again, saves a query for the project, and drafts a printable access request', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    // The builder's look-up finds a code by its name, as the catalogue search does.
    await page.click('#clear-query');
    await page.selectOption('[data-add-to="/cohort"]', 'condition');
    await page.click('[data-add-button="/cohort"]');
    const code = '[data-pointer="/cohort/all/0/condition/code/0/code"]';
    await page.fill(code, 'diabet');
    const list = (await page.getAttribute(code, 'list'))!;
    await expect
      .poll(() => attributesOf(page.locator(`#${list} option`), 'value'), {
        timeout: 10_000,
      })
      .toContain('E119');
    await page.fill(code, 'E119');
    await expect
      .poll(() => page.textContent('[data-display-for="/cohort/all/0/condition/code/0/code"]'))
      .toMatch(/type 2 diabetes/i);

    const query = { ...structuredClone(EXAMPLE_1), label: 'Women 40-79 with type 2 diabetes' };
    await page.fill('#query-json', JSON.stringify(query));
    await runAndWait(page);
    const row = page.locator('#history-table tbody tr', { hasText: query.label }).first();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 30_000 }).toBe('done');
    expect(await row.locator('td').nth(1).textContent()).toBe('done');
    // Edit: back into the builder.
    await page.click('#clear-query');
    await row.locator('[data-action=edit]').click();
    expect(await queryJson(page)).toEqual(query);
    // Run again: a new job, answered like the first.
    const jobs = await page.locator('#history-table tbody tr').count();
    await page.click('#clear-query');
    await row.locator('[data-action=rerun]').click();
    await page.waitForSelector('#downloads', { timeout: RESULT_TIMEOUT_MS });
    expect(await queryJson(page)).toEqual(query);
    await expect.poll(() => page.locator('#history-table tbody tr').count()).toBe(jobs + 1);
    await settle(page, 'history', failures);

    // Saved with a name; the link carries the saved query's id and nothing else.
    await page.fill('#save-name', 'T2D women, by age');
    await page.click('#save');
    const link = (await page.locator('#save-done a.share-link').getAttribute('href'))!;
    expect(link).toMatch(new RegExp(`^${fed.gatewayUrl}/\\?saved=[0-9a-f-]{36}$`));
    await expect
      .poll(() => page.locator('#saved-table tbody tr', { hasText: 'T2D women, by age' }).count())
      .toBe(1);
    await settle(page, 'saved', failures);

    // Request access: the draft as a page to print, and as JSON-LD.
    await page.click('#request-access');
    const draft = page.locator('#access-request');
    await draft.waitFor();
    expect((await attributesOf(draft.locator('#request-datasets li'), 'data-node')).sort()).toEqual(
      fed.nodes.map((n) => n.id).sort(),
    );
    expect(await draft.locator('#request-datasets').textContent()).toContain(
      `${fed.gatewayUrl}/v1/catalogue`,
    );
    expect(await page.textContent('#request-hash')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(JSON.parse((await page.textContent('#request-query'))!)).toEqual(query);
    expect(await page.locator('#request-counts tbody tr').count()).toBe(1 + 5 + 3);
    for (const text of await page.locator('#request-counts td.num').allTextContents()) {
      expect(text).toMatch(/^(\d[\d,]* \(\d[\d,]*–\d[\d,]*\)|< \d+|\d[\d,]*–\d[\d,]*)$/);
    }
    expect(await page.textContent('#request-created')).toMatch(/\d{4}/);
    const [jsonLd] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#access-jsonld'),
    ]);
    const saved = JSON.parse(await readFile(await jsonLd.path(), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(saved['@type']).toBe('tessera:DataRequestDraft');
    expect(saved['tessera:queryHash']).toBe(await page.textContent('#request-hash'));
    await settle(page, 'access-request', failures);
    // Printed: the draft alone, without the page's controls.
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.top').isVisible()).toBe(false);
    expect(await page.locator('#access-print').isVisible()).toBe(false);
    expect(await page.locator('#query-section').isVisible()).toBe(false);
    expect(await draft.isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'access-request-print.png'), fullPage: true });
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize(PHONE);
    await expectNoOverflow(page);
    await page.setViewportSize(DESKTOP);
    await page.click('#access-back');
    await page.locator('#results').waitFor();
    await page.close();

    // Another researcher of the project opens the link: the query is in her builder.
    const other = await openPage();
    await other.page.goto(link);
    await other.page.locator('#saved-link-pending').waitFor();
    await other.page.click('#sign-in');
    await fillSignIn(other.page, 'marco');
    await expect.poll(() => queryJson(other.page), { timeout: 30_000 }).toEqual(query);
    expect(await other.page.inputValue('#project')).toBe('diabetes-eu');
    expect(await other.page.textContent('main')).toContain('T2D women, by age');
    // Hers to open, not to manage: her list holds only the queries she saved herself.
    await other.page.locator('#saved p.hint', { hasText: 'No saved queries yet.' }).waitFor();
    await settle(other.page, 'saved-link-opened', other.failures);
    await other.page.close();

    // A researcher outside the project is told why, and shown nothing of it.
    const outsider = await openPage(PHONE);
    await outsider.page.goto(link);
    await outsider.page.click('#sign-in');
    await fillSignIn(outsider.page, 'nina');
    const refused = outsider.page.locator('#saved-link-error');
    await refused.waitFor({ timeout: 30_000 });
    expect(await refused.textContent()).toMatch(/not shared with any of your projects/);
    expect(JSON.stringify(await queryJson(outsider.page))).not.toContain('E11');
    await expectNoOverflow(outsider.page);
    await settle(outsider.page, 'saved-link-refused', outsider.failures);
    await outsider.page.close();

    // Whoever saved it deletes it: gone from the list, and its link opens nothing.
    const owner = await openPage();
    await signIn(owner.page);
    const mine = owner.page.locator('#saved-table tbody tr', { hasText: 'T2D women, by age' });
    await mine.locator('[data-action=delete]').click();
    await owner.page.locator('#saved-deleted').waitFor();
    await expect.poll(() => mine.count()).toBe(0);
    await settle(owner.page, 'saved-deleted', owner.failures);
    await owner.page.goto(link);
    // Her session at the IdP still stands: signing in asks for nothing.
    await owner.page.click('#sign-in');
    await owner.page.locator('#saved-link-error').waitFor({ timeout: 30_000 });
    await owner.page.close();
  });

  it('shows a histogram query with its chart and bins', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    await expect.poll(() => page.locator('#example option').count()).toBeGreaterThan(1);
    const example = (await page.locator('#example option').allTextContents()).find((t) =>
      /HbA1c/i.test(t),
    );
    expect(example).toBeDefined();
    await page.selectOption('#example', { label: example! });
    const query = (await queryJson(page)) as { measures: { histogram?: { edges: number[] } }[] };
    const edges = query.measures.find((m) => m.histogram)!.histogram!.edges;
    await runAndWait(page);
    const histogram = page.locator('section.histogram');
    expect(await histogram.locator('canvas').count()).toBe(1);
    // One row per bin (the last open-ended), and the patients without a value.
    expect(await histogram.locator('tbody tr').count()).toBe(edges.length + 1);
    expect(await histogram.locator('tbody tr th').first().textContent()).toBe(
      `[${edges[0]}, ${edges[1]})`,
    );
    await settle(page, 'histogram', failures);
    await page.close();
  });

  it('fills the builder from a pasted CCDL document', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    const fixture = JSON.parse(
      await readFile(
        join(REPO_ROOT, 'schemas/fixtures/ccdl/supported/negated-criterion.json'),
        'utf8',
      ),
    ) as { ccdl: unknown; query: unknown };
    await page.click('details.import summary');
    await page.fill('#import-text', JSON.stringify(fixture.ccdl, null, 2));
    await page.click('#import');
    await expect.poll(() => queryJson(page), { timeout: 30_000 }).toEqual(fixture.query);
    expect(await page.locator('fieldset.expr.not').count()).toBe(1);
    expect(await page.inputValue('[data-pointer="/cohort/all/1/not/condition/code/0/code"]')).toBe(
      'N18',
    );
    await settle(page, 'ccdl-imported', failures);
    await page.close();
  });

  it('flags a misspelt code and an invalid value at their fields before anything is sent', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    await page.fill('#query-json', JSON.stringify(EXAMPLE_1));
    await waitValid(page);
    const code = '[data-pointer="/cohort/all/1/condition/code/0/code"]';
    await page.fill(code, 'E1l');
    const warning = page.locator('[data-warning-for="/cohort/all/1/condition/code/0/code"]');
    await warning.waitFor();
    expect(await warning.textContent()).toMatch(/E1l/);
    // Run anyway: the answer carries the same warning, shown above the figures.
    await runAndWait(page);
    const warned = page.locator('#warnings li[data-code=WARN_CODE_NOT_HELD]');
    expect(await warned.getAttribute('data-pointer')).toBe('/cohort/all/1/condition/code/0/code');
    expect(await warned.textContent()).toMatch(/E1l/);
    await settle(page, 'result-warning', failures);
    await page.fill(code, 'E11');
    await warning.waitFor({ state: 'detached' });

    await page.fill('[data-pointer="/cohort/all/0/patient/age/max"]', '200');
    const error = page.locator('[data-error-for="/cohort/all/0/patient/age/max"]');
    await error.waitFor({ timeout: 30_000 });
    expect(
      await page.getAttribute('[data-pointer="/cohort/all/0/patient/age/max"]', 'aria-invalid'),
    ).toBe('true');
    expect(await page.locator('#run').isDisabled()).toBe(true);
    await settle(page, 'flagged-fields', failures);
    await page.fill('[data-pointer="/cohort/all/0/patient/age/max"]', '79');
    await waitValid(page);
    await page.close();
  });

  it('keeps the query being built when the session ends, through sign-in again', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    await page.fill('#query-json', JSON.stringify(EXAMPLE_1));
    await page.fill('[data-pointer="/cohort/all/0/patient/age/min"]', '50');
    const draft = await queryJson(page);
    // The IdP forgets every sign-in: the page's next renewal fails.
    fed.idp.endSessions();
    await page.waitForSelector('#session-ended', { timeout: BROWSER_TOKEN_TTL_SEC * 1000 });
    await settle(page, 'session-ended', failures);
    await page.click('#sign-in');
    await fillSignIn(page, 'rosa');
    expect(await queryJson(page)).toEqual(draft);
    expect(await page.inputValue('[data-pointer="/cohort/all/0/patient/age/min"]')).toBe('50');
    await waitValid(page);
    await page.close();
  });

  it('fits a 390 px screen without horizontal overflow, results included', async () => {
    const { page, failures } = await openPage(PHONE);
    await signIn(page);
    await page.fill('#query-json', JSON.stringify(EXAMPLE_1));
    await runAndWait(page);
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await settle(page, 'phone', failures);
    await page.close();
  });

  it('says who signs in without a project, in the chosen language, and signs out', async () => {
    const { page, failures } = await openPage();
    await signIn(page, 'nina');
    await page.locator('#no-project').waitFor();
    await page.selectOption('#language', 'it');
    expect(await page.textContent('#sign-out')).toBe('Esci');
    expect(await page.evaluate('document.documentElement.lang')).toBe('it');
    await settle(page, 'no-project-italian', failures);
    // Signing out ends the IdP session too: the next sign-in asks for the password again.
    await page.click('#sign-out');
    await page.click('button[name=logout]');
    await page.waitForSelector('#sign-in', { timeout: 30_000 });
    expect(new URL(page.url()).origin).toBe(fed.gatewayUrl);
    await page.click('#sign-in');
    await page.waitForSelector('input[name=username]');
    await page.close();
  });

  it('serves a page the policy needs no exception for, with the hygiene headers on every asset', async () => {
    const html = await (await fetch(`${fed.gatewayUrl}/`)).text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    for (const path of [
      '/',
      '/index.html',
      '/app.js',
      '/style.css',
      '/examples.json',
      '/web-config.json',
      '/openapi.json',
      '/no-such-file',
    ]) {
      const res = await fetch(`${fed.gatewayUrl}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('content-security-policy'), path).toMatch(/frame-ancestors 'none'/);
    }
    const config = (await (await fetch(`${fed.gatewayUrl}/web-config.json`)).json()) as {
      signIn: { issuer: string; clientId: string };
    };
    expect(config.signIn.issuer).toBe(fed.idp.issuer);
    expect(config.signIn.clientId).toBe('tessera-web');

    // Results read outside the page: JSON, CSV, MeasureReport, the job list; never cached.
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
    const checked = await fetch(`${fed.gatewayUrl}/v1/query-check`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ query: EXAMPLE_1 }),
    });
    expect(checked.status).toBe(200);
    expect(checked.headers.get('cache-control')).toMatch(/\bno-store\b/);
    // A coding no node lists: the answer says so, with a pointer into the query as sent.
    const warned = await fetch(`${fed.gatewayUrl}/v1/queries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', prefer: 'wait=30' },
      body: JSON.stringify({
        version: 1,
        cohort: {
          any: [
            { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
            { condition: { code: [{ system: ICD10, code: 'E1l' }] } },
            { procedure: { code: [{ system: 'http://www.ama-assn.org/go/cpt', code: '99213' }] } },
          ],
        },
      }),
    });
    const answer = (await warned.json()) as { status: string; result: MergedResult };
    expect(answer.status).toBe('done');
    expect(answer.result.warnings).toEqual([
      {
        code: 'WARN_CODE_NOT_HELD',
        pointer: '/cohort/any/1/condition/code/0/code',
        detail: expect.stringContaining('E1l'),
      },
      {
        code: 'WARN_SYSTEM_NOT_HELD',
        pointer: '/cohort/any/2/procedure/code/0/code',
        detail: expect.stringContaining('http://www.ama-assn.org/go/cpt'),
      },
    ]);
    const openapi = (await (await fetch(`${fed.gatewayUrl}/openapi.json`)).json()) as {
      components: { schemas: Record<string, unknown> };
    };
    expect(JSON.stringify(openapi.components.schemas)).toContain('WARN_CODE_NOT_HELD');
    const anonymous = await fetch(`${fed.gatewayUrl}/v1/query-check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: EXAMPLE_1 }),
    });
    expect(anonymous.status).toBe(401);
  });

  // Last: it stops a node.
  it('names a stopped node in an incomplete banner', async () => {
    const { page, failures } = await openPage();
    await signIn(page);
    // A question not asked before: a cached answer would still hold every node's figures.
    const query = structuredClone(EXAMPLE_1);
    query.cohort.all[0]!.patient!.age.min = 45;
    await page.fill('#query-json', JSON.stringify(query));
    await fed.stopNode('sachsen');
    await runAndWait(page);
    const banner = page.locator('#incomplete');
    await banner.waitFor();
    expect(await banner.locator('li').allTextContents()).toEqual([
      expect.stringMatching(/^sachsen: /),
    ]);
    expect(await page.textContent('#status')).toMatch(/some nodes did not answer/);
    expect(await page.locator('#node-progress li[data-status=ok]').count()).toBe(2);
    await settle(page, 'incomplete', failures);
    await page.close();
  });
});
