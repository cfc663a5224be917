// The Helm chart as an operator installs it, checked without a cluster: a
// real helm (from an npm package) lints and renders it; every rendered object
// is checked against the Kubernetes JSON schemas (kubernetes-models, built
// from the API's OpenAPI definitions); every configuration file the pods
// would read goes through the services' own loaders with the environment the
// pod would have; and values.schema.json refuses bad values at install.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readGatewayConfig } from '@tessera/gateway';
import { readNodeConfig } from '@tessera/node-adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/paths.ts';
import { runCli } from '../support/processes.ts';
import { helmBinary } from './tools.ts';

const CHART = join(REPO_ROOT, 'deploy/helm/tessera');
const FULL_VALUES = join(CHART, 'ci/full-values.yaml');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

interface Container {
  name: string;
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: unknown;
  livenessProbe?: unknown;
  resources?: unknown;
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  initContainers?: (Container & { command?: string[] })[];
  securityContext?: Record<string, unknown>;
  volumes?: { name: string; configMap?: { name: string }; emptyDir?: unknown }[];
}

let helm: string;
let dir: string;
beforeAll(async () => {
  helm = await helmBinary();
  dir = await mkdtemp(join(tmpdir(), 'tessera-helm-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function runHelm(args: string[]): Promise<{ code: number | null; out: string }> {
  const result = await runCli(args, { command: helm });
  return { code: result.code, out: result.stdout + result.stderr };
}

/** `helm template` of the chart with these values files; throws with helm's words when it fails. */
async function render(valuesFiles: string[] = []): Promise<K8sObject[]> {
  const args = ['template', 'tessera', CHART, '--namespace', 'federation'];
  for (const file of valuesFiles) args.push('--values', file);
  const { code, out } = await runHelm(args);
  if (code !== 0) throw new Error(`helm template failed:\n${out}`);
  return parseAllDocuments(out)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** The Kubernetes (or prometheus-operator) model class for an object's apiVersion and kind. */
async function modelOf(object: K8sObject): Promise<{ new (data: unknown): { validate(): void } }> {
  const specifier = object.apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${object.apiVersion}`
    : `kubernetes-models/${object.apiVersion}`;
  const module = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  const model = module[object.kind];
  if (typeof model !== 'function')
    throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model as { new (data: unknown): { validate(): void } };
}

/** Schema errors of every object, as `Kind/name: message`; empty when all are valid. */
async function schemaErrors(objects: K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const object of objects) {
    const Model = await modelOf(object);
    try {
      new Model(object).validate();
    } catch (err) {
      errors.push(`${object.kind}/${object.metadata.name}: ${(err as Error).message}`);
    }
  }
  return errors;
}

function podSpecOf(object: K8sObject): PodSpec | undefined {
  const spec = object.spec as
    | {
        template?: { spec: PodSpec };
        jobTemplate?: { spec: { template: { spec: PodSpec } } };
      }
    | undefined;
  return spec?.template?.spec ?? spec?.jobTemplate?.spec.template.spec;
}

function workloads(objects: K8sObject[]): { object: K8sObject; pod: PodSpec }[] {
  return objects.flatMap((object) => {
    const pod = podSpecOf(object);
    return pod === undefined ? [] : [{ object, pod }];
  });
}

/**
 * Writes the configuration file a container reads (`--config <path>`, from
 * the ConfigMap mounted at that directory) and returns it with the
 * environment the container gets; secrets stand in as `secret:<name>/<key>`.
 */
async function containerConfig(
  objects: K8sObject[],
  pod: PodSpec,
  container: Container,
): Promise<{ file: string; env: Record<string, string>; command: string }> {
  const args = container.args ?? [];
  const path = args[args.indexOf('--config') + 1];
  expect(path, `${container.name} has --config`).toBeDefined();
  const mount = container.volumeMounts?.find((m) => m.mountPath === dirname(path!));
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  const configMap = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === volume?.configMap?.name,
  );
  const text = configMap?.data?.[basename(path!)];
  expect(text, `the ConfigMap behind ${path}`).toBeDefined();
  const file = join(dir, `${configMap!.metadata.name}-${basename(path!)}`);
  await writeFile(file, text!);
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    env[entry.name] = entry.value ?? (ref ? `secret:${ref.name}/${ref.key}` : '');
  }
  return { file, env, command: args[0]! };
}

/** Every container's configuration through its service's own loader; returns what they loaded. */
async function loadEveryConfig(objects: K8sObject[]) {
  const loaded: { kind: 'gateway' | 'node'; workload: string; config: Record<string, unknown> }[] =
    [];
  for (const { object, pod } of workloads(objects)) {
    for (const container of pod.containers) {
      // `audit verify` reads the state directory alone.
      if (!container.args?.includes('--config')) continue;
      const { file, env } = await containerConfig(objects, pod, container);
      const isGateway = object.metadata.labels?.['app.kubernetes.io/name'] === 'tessera-gateway';
      const config = isGateway
        ? await readGatewayConfig(file, env)
        : await readNodeConfig(file, env);
      loaded.push({
        kind: isGateway ? 'gateway' : 'node',
        workload: `${object.kind}/${object.metadata.name}`,
        config: config,
      });
    }
  }
  return loaded;
}

describe('the Helm chart', () => {
  it('passes helm lint --strict with its default values and with every option on', async () => {
    for (const values of [[], ['--values', FULL_VALUES]]) {
      const { code, out } = await runHelm(['lint', '--strict', CHART, ...values]);
      expect(code, out).toBe(0);
      expect(out).toContain('0 chart(s) failed');
    }
  });

  describe('rendered with its default values', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render();
    });

    it('renders the gateway with autoscaler, disruption budget, ingress and network policies, and a node with its volume', () => {
      const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expect(kinds).toEqual(
        [
          'ConfigMap/tessera-gateway',
          'ConfigMap/tessera-node-example',
          'CronJob/tessera-node-example-audit-verify',
          'Deployment/tessera-gateway',
          'HorizontalPodAutoscaler/tessera-gateway',
          'Ingress/tessera-gateway',
          'NetworkPolicy/tessera-gateway',
          'NetworkPolicy/tessera-node-example',
          'PodDisruptionBudget/tessera-gateway',
          'Service/tessera-gateway',
          'Service/tessera-node-example',
          'StatefulSet/tessera-node-example',
        ].sort(),
      );
      const node = objects.find((o) => o.kind === 'StatefulSet')!;
      expect(node.spec?.volumeClaimTemplates).toMatchObject([
        { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } },
      ]);
    });

    it('renders only objects the Kubernetes schemas accept', async () => {
      expect(await schemaErrors(objects)).toEqual([]);
    });

    it('gives every pod a configuration the service itself accepts', async () => {
      const loaded = await loadEveryConfig(objects);
      expect(loaded.map((l) => `${l.kind} ${l.workload}`)).toEqual([
        'gateway Deployment/tessera-gateway',
        'node StatefulSet/tessera-node-example',
      ]);
      const gateway = loaded[0]!.config;
      expect(gateway.nodes).toEqual([
        expect.objectContaining({
          id: 'example',
          url: 'http://tessera-node-example.federation.svc:8081',
        }),
      ]);
      // DATABASE_URL from the Secret reaches the store: replicas share PostgreSQL.
      expect(gateway.store).toMatchObject({ databaseUrl: 'secret:tessera-gateway-db/url' });
      expect(loaded[1]!.config).toMatchObject({
        nodeId: 'example',
        listen: { host: '0.0.0.0', port: 8081 },
        stateDir: '/state',
        gateway: {
          issuer: 'https://tessera.example.eu',
          jwksUrl: 'http://tessera-gateway.federation.svc:80/.well-known/jwks.json',
        },
      });
    });
  });

  describe('rendered with every option on (ci/full-values.yaml)', () => {
    let objects: K8sObject[];
    beforeAll(async () => {
      objects = await render([FULL_VALUES]);
    });

    it('renders only objects the Kubernetes and prometheus-operator schemas accept', async () => {
      const kinds = new Set(objects.map((o) => o.kind));
      for (const kind of ['CronJob', 'ServiceMonitor', 'StatefulSet', 'Ingress']) {
        expect(kinds).toContain(kind);
      }
      expect(kinds).not.toContain('HorizontalPodAutoscaler');
      expect(await schemaErrors(objects)).toEqual([]);
    });

    it('gives every pod, the sync CronJob included, a configuration the service accepts', async () => {
      const loaded = await loadEveryConfig(objects);
      expect(loaded.map((l) => `${l.kind} ${l.workload}`).sort()).toEqual([
        'gateway Deployment/tessera-gateway',
        'node CronJob/tessera-node-lombardia-sync',
        'node StatefulSet/tessera-node-galicia',
        'node StatefulSet/tessera-node-lombardia',
      ]);
      const gateway = loaded.find((l) => l.kind === 'gateway')!.config;
      expect((gateway.nodes as { id: string }[]).map((n) => n.id)).toEqual([
        'lombardia',
        'galicia',
        'sachsen',
      ]);
      expect(Object.keys(gateway.projects as object)).toEqual(['diabetes-eu']);
      // The bearer token comes from a Secret through the environment, not the ConfigMap.
      const galicia = loaded.find((l) => l.workload === 'StatefulSet/tessera-node-galicia')!;
      expect(galicia.config.source).toMatchObject({
        kind: 'fhir',
        auth: { kind: 'bearer', token: 'secret:galicia-fhir-token/token' },
      });
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
      expect(JSON.stringify(configMaps)).not.toContain('secret:');
    });

    it('verifies a node audit log on a schedule, reading its state directory, unless the node says not to', () => {
      const crons = objects.filter((o) => o.metadata.name.endsWith('-audit-verify'));
      // galicia's values turn it off.
      expect(crons.map((o) => o.metadata.name)).toEqual(['tessera-node-lombardia-audit-verify']);
      for (const cron of crons) {
        const container = podSpecOf(cron)!.containers[0]!;
        expect(container.args).toEqual(['audit', 'verify', '--state-dir', '/state']);
        expect(container.volumeMounts).toContainEqual({
          name: 'data',
          mountPath: '/state',
          subPath: 'state',
        });
      }
    });

    it('syncs a node with a sync block once before it first starts, and only then', () => {
      const withSync = objects.find(
        (o) => o.kind === 'StatefulSet' && o.metadata.name === 'tessera-node-lombardia',
      )!;
      const [init, ...more] = podSpecOf(withSync)!.initContainers ?? [];
      expect(more).toEqual([]);
      expect(init?.command).toEqual([
        'sh',
        '-c',
        '[ -f "$0" ] || exec node node-adapter/bin/tessera-node.js sync --config /etc/tessera/node.json',
        '/data/lombardia.duckdb',
      ]);
      expect(init?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
      const live = objects.find(
        (o) => o.kind === 'StatefulSet' && o.metadata.name === 'tessera-node-galicia',
      )!;
      expect(podSpecOf(live)!.initContainers).toBeUndefined();
    });

    it('runs the sync beside its node: same volume, same host, never two at once', () => {
      const cron = objects.find((o) => o.metadata.name === 'tessera-node-lombardia-sync')!;
      const pod = podSpecOf(cron)!;
      expect(cron.spec).toMatchObject({ schedule: '17 2 * * *', concurrencyPolicy: 'Forbid' });
      expect(pod.containers[0]!.args).toEqual(['sync', '--config', '/etc/tessera/node.json']);
      expect(pod.volumes).toContainEqual({
        name: 'data',
        persistentVolumeClaim: { claimName: 'data-tessera-node-lombardia-0' },
      });
      expect(JSON.stringify((pod as { affinity?: unknown }).affinity)).toContain(
        'kubernetes.io/hostname',
      );
    });
  });

  it('runs every container as non-root on a read-only root filesystem, with probes and resources for the services', async () => {
    const objects = await render([FULL_VALUES]);
    for (const { object, pod } of workloads(objects)) {
      expect(pod.securityContext, object.metadata.name).toMatchObject({ runAsNonRoot: true });
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(container.securityContext, container.name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources, container.name).toBeDefined();
        if (object.kind !== 'CronJob' && !pod.initContainers?.includes(container)) {
          expect(container.readinessProbe, container.name).toMatchObject({
            httpGet: { path: '/readyz' },
          });
          expect(container.livenessProbe, container.name).toMatchObject({
            httpGet: { path: '/healthz' },
          });
        }
      }
    }
  });

  it('lets the gateway reach only DNS, its nodes, the IdP and PostgreSQL, and a node admit only the gateway and Prometheus', async () => {
    const objects = await render([FULL_VALUES]);
    const policy = (name: string) =>
      objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === name)!.spec as {
        egress?: { to?: unknown[]; ports: { port: number | string }[] }[];
        ingress: { from?: { podSelector?: { matchLabels: Record<string, string> } }[] }[];
        policyTypes: string[];
      };
    const gateway = policy('tessera-gateway');
    expect(gateway.policyTypes).toEqual(['Ingress', 'Egress']);
    // A rule without `to` would allow every destination.
    for (const rule of gateway.egress!) expect(rule.to?.length).toBeGreaterThan(0);
    expect(gateway.egress!.map((r) => r.ports.map((p) => p.port))).toEqual([
      [53, 53],
      [8081],
      [443],
      [443],
      [5432],
    ]);
    const node = policy('tessera-node-lombardia');
    expect(node.policyTypes).toEqual(['Ingress']);
    expect(node.ingress[0]!.from).toContainEqual({
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'tessera-gateway',
          'app.kubernetes.io/instance': 'tessera',
        },
      },
    });
  });

  describe('values.schema.json refuses bad values at install', () => {
    const refusals: [string, string, RegExp][] = [
      [
        'a node id the services would refuse',
        'nodes: [{ id: Lombardia_1, config: { source: { kind: duckdb, path: /data/s.duckdb }, projects: [p] } }]',
        /\/nodes\/0\/id/,
      ],
      [
        'a sync schedule with no sync block in the node configuration',
        "nodes: [{ id: lombardia, sync: { schedule: '0 2 * * *' }, config: { source: { kind: duckdb, path: /data/s.duckdb }, projects: [p] } }]",
        /\/nodes\/0\/config.*sync/,
      ],
      [
        'nodes listed by hand in the gateway configuration',
        'gateway: { config: { nodes: [] } }',
        /\/gateway\/config/,
      ],
      ['a misspelt key', 'gateway: { replica: 3 }', /replica/],
      ['a gateway without PostgreSQL', 'gateway: { database: null }', /database/],
    ];
    it.each(refusals)('%s', async (_what, values, message) => {
      const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.yaml`);
      await writeFile(file, values);
      const { code, out } = await runHelm(['template', 'tessera', CHART, '--values', file]);
      expect(code, out).not.toBe(0);
      expect(out).toMatch(message);
    });
  });
});
