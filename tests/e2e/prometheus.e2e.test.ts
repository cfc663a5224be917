// Monitoring end to end: a real Prometheus scrapes a real gateway and real
// nodes on loopback, with the shipped rules loaded, and sees the figures the
// queries produced; and every metric the Grafana dashboards and the alert
// rules read is one the services actually export. (promtool's checks and the
// rules' unit tests are in tests/deploy/monitoring.test.ts.)
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FEDERATION_START_TIMEOUT_MS,
  type Federation,
  startFederation,
} from '../support/federation.ts';
import { type JobView, get, metricTypes, submit } from '../support/gateway-client.ts';
import { REPO_ROOT } from '../support/paths.ts';
import {
  type Service,
  eventually,
  freePort,
  startService,
  stopService,
} from '../support/processes.ts';
import { PROMETHEUS, requirePrometheus } from '../support/requirements.ts';
import { HYPERTENSION_BY_GENDER, patientsAged } from './queries.ts';

const prometheus = await requirePrometheus();

const RULES = join(REPO_ROOT, 'deploy/prometheus/rules.yml');
const DASHBOARDS = join(REPO_ROOT, 'deploy/grafana/dashboards');
const HISTOGRAM_SERIES = /_(bucket|count|sum)$/;
const QUERIES = [HYPERTENSION_BY_GENDER, patientsAged(30, 60), patientsAged(61, 90)];

/** Every `tessera_…` metric name in a PromQL expression. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btessera_[a-z0-9_]+\b/g)].map((m) => m[0]);
}

/** Every string under an `expr` key, anywhere in a Grafana dashboard. */
function dashboardExprs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(dashboardExprs);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === 'expr' && typeof child === 'string' ? [child] : dashboardExprs(child),
  );
}

/** Whether `name` is exported: directly, or as a series of an exported histogram. */
function isExported(name: string, types: ReadonlyMap<string, string>): boolean {
  if (types.has(name)) return true;
  const base = name.replace(HISTOGRAM_SERIES, '');
  return base !== name && (types.get(base) === 'histogram' || types.get(base) === 'summary');
}

interface PromVector {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

describe('metrics of a running federation', () => {
  let fed: Federation;
  let exposition: { gateway: string; nodes: string[] };

  beforeAll(async () => {
    fed = await startFederation({
      regions: [
        { id: 'lombardia', generate: { patients: 300, seed: 1101, region: 'lombardia' } },
        { id: 'galicia', generate: { patients: 300, seed: 2202, region: 'galicia' } },
      ],
    });
    const caller = { gatewayUrl: fed.gatewayUrl, token: await fed.tokenFor() };
    for (const query of QUERIES) {
      const res = await submit<JobView>(caller, query, { wait: 20 });
      expect(res.status, res.text).toBe(200);
      expect(res.body.result?.complete).toBe(true);
    }
    const text = async (url: string): Promise<string> => (await fetch(url)).text();
    exposition = {
      gateway: await text(`${fed.gatewayUrl}/metrics`),
      nodes: await Promise.all(fed.nodes.map((n) => text(`${n.url}/metrics`))),
    };
  }, FEDERATION_START_TIMEOUT_MS);
  afterAll(() => fed?.close());

  it('exports every metric the Grafana dashboards and the alert rules read', async () => {
    const types = new Map([
      ...metricTypes(exposition.gateway),
      ...exposition.nodes.flatMap((e) => [...metricTypes(e)]),
    ]);
    const files = (await readdir(DASHBOARDS)).filter((f) => f.endsWith('.json'));
    const dashboard = (
      await Promise.all(files.map(async (f) => readFile(join(DASHBOARDS, f), 'utf8')))
    ).flatMap((text) => dashboardExprs(JSON.parse(text)));
    const rules = await readFile(RULES, 'utf8');
    const referenced = new Set([...dashboard.flatMap(metricNames), ...metricNames(rules)]);
    expect(dashboard.length).toBeGreaterThan(0);
    expect(referenced.size).toBeGreaterThan(5);
    const missing = [...referenced].filter((name) => !isExported(name, types));
    expect(missing).toEqual([]);
  });

  describe.skipIf(prometheus.skip)('scraped by a real Prometheus', () => {
    let dir: string;
    let server: Service | undefined;
    let promUrl: string;

    const promQuery = async (query: string): Promise<PromVector[]> => {
      const res = await get<{ status: string; data: { result: PromVector[] } }>(
        { gatewayUrl: promUrl, token: undefined },
        `/api/v1/query?query=${encodeURIComponent(query)}`,
      );
      if (res.status !== 200 || res.body.status !== 'success') {
        throw new Error(`Prometheus answered ${res.status}: ${res.text.slice(0, 300)}`);
      }
      return res.body.data.result;
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-prometheus-'));
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const hostOf = (url: string): string => new URL(url).host;
      // JSON is YAML; the shipped rules are loaded too, so they must parse in a real server.
      await writeFile(
        join(dir, 'prometheus.yml'),
        JSON.stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          rule_files: [RULES],
          scrape_configs: [
            {
              job_name: 'tessera-gateway',
              static_configs: [{ targets: [hostOf(fed.gatewayUrl)] }],
            },
            {
              job_name: 'tessera-node',
              static_configs: [{ targets: fed.nodes.map((n) => hostOf(n.url)) }],
            },
          ],
        }),
      );
      server = startService(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { command: PROMETHEUS, cwd: dir },
      );
      await eventually(
        'Prometheus to see every target up',
        async () => {
          const res = await get<{
            data: { activeTargets: { health: string; scrapePool: string }[] };
          }>({ gatewayUrl: promUrl, token: undefined }, '/api/v1/targets');
          const targets = res.body.data.activeTargets;
          return targets.length === fed.nodes.length + 1 && targets.every((t) => t.health === 'up')
            ? targets
            : undefined;
        },
        60_000,
        500,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${server?.logs() ?? ''}`);
      });
    });
    afterAll(async () => {
      if (server) await stopService(server);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('sees the query submissions where the dashboard and the latency alert look for them', async () => {
      // The series the dashboard's query-rate panel and the TesseraGatewayLatency rule select.
      const selector =
        'tessera_gateway_http_request_duration_seconds_count{route="/v1/queries",method="POST"}';
      const series = await eventually(
        'the POST /v1/queries series',
        async () => {
          const result = await promQuery(`sum(${selector})`);
          return result.length > 0 && Number(result[0]!.value[1]) >= QUERIES.length
            ? result
            : undefined;
        },
        20_000,
        500,
      ).catch(async (err: unknown) => {
        const routes = await promQuery(
          'count by (method, route) (tessera_gateway_http_request_duration_seconds_count)',
        );
        const seen = routes.map((r) => `${r.metric.method} ${r.metric.route}`).join(', ');
        throw new Error(`${(err as Error).message}; the gateway reports routes: ${seen}`);
      });
      expect(Number(series[0]!.value[1])).toBe(QUERIES.length);
    });

    it('sees the gateway request histogram', async () => {
      const all = await eventually(
        'tessera_gateway_http_request_duration_seconds_count',
        async () => {
          const result = await promQuery(
            'sum(tessera_gateway_http_request_duration_seconds_count{method="POST",status="200"})',
          );
          return result.length > 0 && Number(result[0]!.value[1]) >= QUERIES.length
            ? result
            : undefined;
        },
        20_000,
        500,
      );
      expect(Number(all[0]!.value[1])).toBe(QUERIES.length);
    });

    it('sees every node release one evaluation per query', async () => {
      const result = await eventually(
        'tessera_node_evaluations_total of every node',
        async () => {
          const vectors = await promQuery('tessera_node_evaluations_total{outcome="released"}');
          return vectors.length === fed.nodes.length ? vectors : undefined;
        },
        20_000,
        500,
      );
      const byNode = Object.fromEntries(result.map((v) => [v.metric.node, Number(v.value[1])]));
      expect(byNode).toEqual(Object.fromEntries(fed.nodes.map((n) => [n.id, QUERIES.length])));
      for (const v of result) expect(v.metric.job).toBe('tessera-node');
    });
  });
});
