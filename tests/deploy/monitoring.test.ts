// The shipped monitoring, checked by Prometheus's own tool: the scrape
// configuration and the rules load, every alert has a promtool unit test that
// makes it fire, and every alert names a response in docs/operations/alerts.md.
// (Whether the services export each metric the rules and dashboards read is
// checked against a running federation in tests/e2e/prometheus.e2e.test.ts.)
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/paths.ts';
import { runCli } from '../support/processes.ts';
import { PROMTOOL, requirePrometheus } from '../support/requirements.ts';

const prometheus = await requirePrometheus();

const PROMETHEUS_DIR = join(REPO_ROOT, 'deploy/prometheus');
const RULES = join(PROMETHEUS_DIR, 'rules.yml');
const RULE_TESTS = join(PROMETHEUS_DIR, 'rules.test.yml');
const ALERTS_DOC = join(REPO_ROOT, 'docs/operations/alerts.md');
const DASHBOARDS = join(REPO_ROOT, 'deploy/grafana/dashboards');

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
}

async function alerts(): Promise<Rule[]> {
  const rules = parse(await readFile(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}

/** GitHub's anchor for a Markdown heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

describe.skipIf(prometheus.skip)('promtool', () => {
  it('accepts the scrape configuration (with its rule file)', async () => {
    const result = await runCli(['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')], {
      command: PROMTOOL,
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });

  it('accepts the rules', async () => {
    const result = await runCli(['check', 'rules', RULES], { command: PROMTOOL });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${(await alerts()).length} rules found`);
  });

  it('passes the rules unit tests', async () => {
    const result = await runCli(['test', 'rules', RULE_TESTS], { command: PROMTOOL });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });
});

describe('the alert rules', () => {
  it('each have a unit test in which they fire', async () => {
    const tests = parse(await readFile(RULE_TESTS, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests
        .flatMap((t) => t.alert_rule_test ?? [])
        .filter((t) => t.exp_alerts.length > 0)
        .map((t) => t.alertname),
    );
    const names = (await alerts()).map((a) => a.alert!);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !firing.has(name))).toEqual([]);
  });

  it('each name the section of docs/operations/alerts.md that says what to do', async () => {
    const doc = await readFile(ALERTS_DOC, 'utf8');
    const anchors = new Set(
      [...doc.matchAll(/^#{2,3} (.+)$/gm)].map(
        (m) => `docs/operations/alerts.md#${anchorOf(m[1]!)}`,
      ),
    );
    const missing = (await alerts())
      .filter((a) => !anchors.has(a.annotations?.runbook ?? ''))
      .map((a) => `${a.alert}: ${a.annotations?.runbook ?? 'no runbook annotation'}`);
    expect(missing).toEqual([]);
  });
});

describe('the Grafana dashboards', () => {
  it('are a federation overview and a node detail, every panel querying the provisioned Prometheus', async () => {
    const files = (await readdir(DASHBOARDS)).filter((f) => f.endsWith('.json')).sort();
    const dashboards = await Promise.all(
      files.map(async (f) => JSON.parse(await readFile(join(DASHBOARDS, f), 'utf8')) as Dashboard),
    );
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['tessera-node', 'tessera-overview']);
    for (const dashboard of dashboards) {
      const panels = dashboard.panels.filter((p) => p.type !== 'row');
      expect(panels.length, dashboard.uid).toBeGreaterThan(3);
      for (const panel of panels) {
        expect(panel.targets?.length, `${dashboard.uid}: ${panel.title}`).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) {
          expect(target.expr, `${dashboard.uid}: ${panel.title}`).toMatch(/\btessera_[a-z_]+/);
          expect(target.datasource ?? panel.datasource, panel.title).toMatchObject({
            uid: 'prometheus',
          });
        }
      }
    }
  });
});

interface Dashboard {
  uid: string;
  panels: {
    type: string;
    title: string;
    datasource?: { uid: string };
    targets?: { expr: string; datasource?: { uid: string } }[];
  }[];
}
