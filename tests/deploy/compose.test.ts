// The compose federation, checked without a container engine: the file is
// valid against the compose specification's JSON Schema; every configuration
// file a service mounts passes that service's own loader; the pieces agree
// with each other (the issuer the gateway trusts is the one Keycloak
// announces and both the browser and the gateway reach; every node is filled
// by its init service before it starts; the proxy and Prometheus name the
// replicas); and the Keycloak realm has the clients, scope, mappers, user
// profile and users the gateway needs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readGatewayConfig } from '@tessera/gateway';
import { readNodeConfig } from '@tessera/node-adapter';
import { loadConfig } from '@tessera/schemas';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../support/paths.ts';
import { composeSpecSchema } from './tools.ts';

const COMPOSE_DIR = join(REPO_ROOT, 'deploy/compose');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] }>;
  read_only?: boolean;
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

let compose: Compose;
let gateway: Awaited<ReturnType<typeof readGatewayConfig>>;
beforeAll(async () => {
  compose = parse(await readFile(join(COMPOSE_DIR, 'compose.yaml'), 'utf8'), {
    merge: true,
  }) as Compose;
  gateway = await readGatewayConfig(
    join(COMPOSE_DIR, 'config/gateway.json'),
    compose.services['gateway-1']!.environment,
  );
});

/** The host file a service mounts at `target`, resolved from the compose directory. */
function mountOf(service: Service, target: string): string | undefined {
  for (const volume of service.volumes ?? []) {
    const [source, at] = volume.split(':');
    if (at === target) return source!.startsWith('.') ? join(COMPOSE_DIR, source!) : source;
  }
  return undefined;
}

const gatewayServices = (): [string, Service][] =>
  Object.entries(compose.services).filter(([name]) => /^gateway-\d+$/.test(name));
const nodeServices = (): [string, Service][] =>
  Object.entries(compose.services).filter(([name]) => /^node-[a-z]+$/.test(name));

describe('deploy/compose/compose.yaml', () => {
  it('is valid against the compose specification', async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // The schema names draft-07 by its https address; Ajv knows it by http.
    const schema = await composeSpecSchema();
    delete schema.$schema;
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs two gateway replicas on PostgreSQL behind the proxy, which Prometheus scrapes', async () => {
    const replicas = gatewayServices();
    expect(replicas.map(([name]) => name)).toEqual(['gateway-1', 'gateway-2']);
    for (const [, service] of replicas) {
      expect(service.environment?.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(mountOf(service, '/etc/tessera/gateway.json')).toBe(
        join(COMPOSE_DIR, 'config/gateway.json'),
      );
    }
    const nginx = await readFile(join(COMPOSE_DIR, 'proxy/nginx.conf'), 'utf8');
    const upstream = [...nginx.matchAll(/^\s*server (\S+);/gm)].map((m) => m[1]);
    expect(upstream).toEqual(replicas.map(([name]) => `${name}:${gateway.listen.port}`));
    expect(compose.services.proxy!.ports).toEqual([`8080:8080`]);
    expect(new URL(gateway.publicUrl).port).toBe('8080');

    const prometheus = parse(
      await readFile(join(REPO_ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'),
    ) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const targets = Object.fromEntries(
      prometheus.scrape_configs.map((c) => [
        c.job_name,
        c.static_configs.flatMap((s) => s.targets),
      ]),
    );
    expect(targets['tessera-gateway']).toEqual(replicas.map(([name]) => `${name}:8080`));
    expect(targets['tessera-node']).toEqual(nodeServices().map(([name]) => `${name}:8081`));
  });

  it('gives the gateway a configuration it accepts, naming the compose services of its nodes', () => {
    expect(gateway.store.databaseUrl).toBe(
      compose.services['gateway-1']!.environment!.DATABASE_URL,
    );
    const services = new Set(Object.keys(compose.services));
    for (const node of gateway.nodes) {
      const url = new URL(node.url);
      expect(services, node.url).toContain(url.hostname);
      expect(url.hostname).toBe(`node-${node.id}`);
    }
    expect(gateway.nodes.map((n) => `node-${n.id}`)).toEqual(nodeServices().map(([name]) => name));
  });

  it('gives every node a configuration it accepts, trusting the gateway through the proxy', async () => {
    for (const [name, service] of nodeServices()) {
      const file = mountOf(service, '/etc/tessera/node.json');
      expect(file, name).toBeDefined();
      const node = await readNodeConfig(file!, service.environment ?? {});
      expect(`node-${node.nodeId}`).toBe(name);
      expect(node.gateway.issuer).toBe(gateway.publicUrl);
      expect(new URL(node.gateway.jwksUrl!).hostname).toBe('proxy');
      for (const project of node.projects) {
        expect(gateway.projects[project]?.nodes, `${name}: ${project}`).toContain(node.nodeId);
      }
    }
  });

  it('fills every node store by a one-shot init service before the node starts', async () => {
    for (const [name, service] of nodeServices()) {
      const node = await readNodeConfig(mountOf(service, '/etc/tessera/node.json')!, {});
      const init = compose.services[`${name}-data`];
      expect(init, `${name}-data`).toBeDefined();
      expect(service.depends_on?.[`${name}-data`]).toEqual({
        condition: 'service_completed_successfully',
      });
      // The same named volume at /data in both, and the store the node reads is the one the init writes.
      expect(mountOf(init!, '/data')).toBe(mountOf(service, '/data'));
      expect(compose.volumes).toHaveProperty(mountOf(service, '/data')!);
      expect(node.source).toEqual({ kind: 'duckdb', path: `/data/${node.nodeId}.duckdb` });
      expect(init!.environment?.REGION).toBe(node.nodeId);
      const script = [init!.command ?? []].flat().join('\n');
      expect(script).toContain('store=/data/$$REGION.duckdb');
      expect(script).toMatch(/tessera-node\.js generate [^\n]*--out \/tmp\/export/);
      expect(script).toMatch(/tessera-node\.js ingest --source \/tmp\/export --db "\$\$store"/);
    }
  });

  it('runs the services on read-only root filesystems, built from the shipped Dockerfiles', async () => {
    for (const [name, service] of [...gatewayServices(), ...nodeServices()]) {
      expect(service.read_only, name).toBe(true);
    }
    const builds = Object.values(compose.services).flatMap((s) => (s.build ? [s.build] : []));
    expect(builds.map((b) => b.dockerfile).sort()).toEqual([
      'deploy/docker/gateway.Dockerfile',
      'deploy/docker/node-adapter.Dockerfile',
    ]);
    for (const build of builds) {
      await expect(
        readFile(join(COMPOSE_DIR, build.context, build.dockerfile)),
      ).resolves.toBeDefined();
    }
  });

  it('has Keycloak announce, at an address both the browser and the gateway reach, the issuer the gateway trusts', () => {
    const keycloak = compose.services.keycloak!;
    const issuer = new URL(gateway.oidc.issuer);
    expect(`${issuer.origin}`).toBe(keycloak.environment?.KC_HOSTNAME);
    // Browsers resolve *.localhost to the host, where the port is published...
    expect(issuer.hostname).toMatch(/\.localhost$/);
    expect(keycloak.ports).toEqual([`${issuer.port}:${issuer.port}`]);
    expect(keycloak.command).toContain(`--http-port=${issuer.port}`);
    // ...and the gateway's containers resolve it to Keycloak on the compose network.
    expect(keycloak.networks?.default?.aliases).toContain(issuer.hostname);
    expect(issuer.pathname).toBe('/realms/tessera');
    for (const [, service] of gatewayServices()) {
      expect(service.depends_on?.keycloak).toEqual({ condition: 'service_healthy' });
    }
  });
});

describe('the Keycloak realm', () => {
  interface Mapper {
    protocolMapper: string;
    config: Record<string, string>;
  }
  interface Realm {
    realm: string;
    clientScopes: { name: string; attributes: Record<string, string>; protocolMappers: Mapper[] }[];
    clients: {
      clientId: string;
      publicClient: boolean;
      standardFlowEnabled: boolean;
      directAccessGrantsEnabled: boolean;
      redirectUris?: string[];
      webOrigins?: string[];
      attributes: Record<string, string>;
      defaultClientScopes: string[];
    }[];
    users: {
      username: string;
      enabled: boolean;
      emailVerified: boolean;
      requiredActions: string[];
      attributes?: Record<string, string[]>;
      credentials: { type: string; temporary: boolean }[];
    }[];
    components: Record<string, { providerId: string; config: Record<string, string[]> }[]>;
  }
  let realm: Realm;
  const defaults = loadConfig('gateway-config', {
    publicUrl: 'http://x.invalid',
    oidc: { issuer: 'http://x.invalid', audience: 'a' },
    nodes: [{ id: 'a', url: 'http://a.invalid' }],
    projects: { p: { nodes: ['a'] } },
  }).oidc;
  beforeAll(async () => {
    realm = JSON.parse(
      await readFile(join(COMPOSE_DIR, 'keycloak/tessera-realm.json'), 'utf8'),
    ) as Realm;
  });

  it('is the realm the gateway trusts', () => {
    expect(gateway.oidc.issuer.endsWith(`/realms/${realm.realm}`)).toBe(true);
  });

  it('has the query scope, in the token, with the gateway audience and the projects claim', () => {
    const scope = realm.clientScopes.find((s) => s.name === gateway.oidc.requiredScope);
    expect(gateway.oidc.requiredScope).toBe(defaults.requiredScope);
    expect(scope?.attributes['include.in.token.scope']).toBe('true');
    const mappers = scope!.protocolMappers;
    expect(mappers).toContainEqual(
      expect.objectContaining({
        protocolMapper: 'oidc-audience-mapper',
        config: expect.objectContaining({
          'included.custom.audience': gateway.oidc.audience,
          'access.token.claim': 'true',
        }) as unknown,
      }),
    );
    expect(mappers).toContainEqual(
      expect.objectContaining({
        protocolMapper: 'oidc-usermodel-attribute-mapper',
        config: expect.objectContaining({
          'user.attribute': 'tessera_projects',
          'claim.name': gateway.oidc.projectsClaim,
          multivalued: 'true',
          'access.token.claim': 'true',
        }) as unknown,
      }),
    );
    // Every token has its subject: the scope that maps it is defined here.
    const basic = realm.clientScopes.find((s) => s.name === 'basic');
    expect(basic?.protocolMappers.map((m) => m.protocolMapper)).toContain('oidc-sub-mapper');
  });

  it('has a public browser client with PKCE for the web page, and a public device-login client for the CLI', () => {
    const web = realm.clients.find((c) => c.clientId === 'tessera-web');
    expect(web).toMatchObject({
      publicClient: true,
      standardFlowEnabled: true,
      directAccessGrantsEnabled: false,
      attributes: expect.objectContaining({ 'pkce.code.challenge.method': 'S256' }) as unknown,
    });
    expect(web!.redirectUris).toEqual([`${gateway.publicUrl}/*`]);
    expect(web!.webOrigins).toEqual([gateway.publicUrl]);
    const cli = realm.clients.find((c) => c.clientId === 'tessera-cli');
    expect(cli).toMatchObject({
      publicClient: true,
      standardFlowEnabled: false,
      directAccessGrantsEnabled: false,
      attributes: expect.objectContaining({
        'oauth2.device.authorization.grant.enabled': 'true',
      }) as unknown,
    });
    for (const client of [web!, cli!]) {
      expect(client.defaultClientScopes).toEqual(
        expect.arrayContaining(['basic', gateway.oidc.requiredScope]),
      );
    }
  });

  it('declares the projects attribute in the user profile, multivalued and set by administrators only', () => {
    const [profile] = realm.components['org.keycloak.userprofile.UserProfileProvider'] ?? [];
    expect(profile?.providerId).toBe('declarative-user-profile');
    const config = JSON.parse(profile!.config['kc.user.profile.config']![0]!) as {
      attributes: { name: string; multivalued?: boolean; permissions: { edit: string[] } }[];
      unmanagedAttributePolicy?: string;
    };
    const names = config.attributes.map((a) => a.name);
    for (const standard of ['username', 'email', 'firstName', 'lastName']) {
      expect(names).toContain(standard);
    }
    const projects = config.attributes.find((a) => a.name === 'tessera_projects');
    expect(projects).toMatchObject({ multivalued: true, permissions: { edit: ['admin'] } });
    expect(config.unmanagedAttributePolicy).toBeUndefined();
  });

  it('has demo users who can sign in at once, members of projects the gateway knows (and one of none)', () => {
    expect(realm.users.length).toBeGreaterThanOrEqual(2);
    for (const user of realm.users) {
      expect(user, user.username).toMatchObject({
        enabled: true,
        emailVerified: true,
        requiredActions: [],
      });
      expect(user.credentials).toEqual([
        expect.objectContaining({ type: 'password', temporary: false }),
      ]);
      for (const project of user.attributes?.tessera_projects ?? []) {
        expect(Object.keys(gateway.projects), user.username).toContain(project);
      }
    }
    expect(
      realm.users.filter((u) => (u.attributes?.tessera_projects ?? []).length === 0),
    ).toHaveLength(1);
  });
});
