// The container images' rules, read from the Dockerfiles themselves (there
// is no container engine here to build them): a supported Node LTS, several
// stages, a numeric non-root user, declared volumes for everything written
// (so the root filesystem can be read-only), a health check on the port the
// service listens on, production dependencies only, and no test code,
// fixtures or secrets in the final image.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.ts';

const IMAGES = [
  {
    file: 'gateway.Dockerfile',
    workspace: 'gateway',
    bin: 'gateway/bin/tessera-gateway.js',
    port: '8080',
    volumes: ['/state', '/tmp'],
  },
  {
    file: 'node-adapter.Dockerfile',
    workspace: 'node-adapter',
    bin: 'node-adapter/bin/tessera-node.js',
    port: '8081',
    volumes: ['/data', '/state', '/tmp'],
  },
];
/** Folders of a workspace that only tests, generators and fixtures use. */
const NOT_RUN = ['test', 'fixtures', 'scripts'];
const LTS_IMAGE = /^node:(22|24)(\.\d+){0,2}-(bookworm|trixie)-slim$/;
const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE|CREDENTIAL|_KEY\b/i;

interface Stage {
  readonly from: string;
  readonly name: string | null;
  readonly instructions: Instruction[];
}

/** The Dockerfile's initial ARGs and its stages, each with its instructions. */
async function parseDockerfile(file: string) {
  const dockerfile = DockerfileParser.parse(
    await readFile(join(REPO_ROOT, 'deploy/docker', file), 'utf8'),
  );
  const args = new Map(
    dockerfile
      .getInitialARGs()
      .map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']),
  );
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', , name = null] = instruction.getArguments().map((a) => a.getValue());
      stages.push({ from: image, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

function argumentsOf(stage: Stage, keyword: string): string[][] {
  return stage.instructions
    .filter((i) => i.getKeyword() === keyword)
    .map((i) => i.getArguments().map((a) => a.getValue()));
}

/** A JSON-form instruction's strings (`["a", "b"]`), or its words. */
function jsonOrWords(words: string[]): string[] {
  const text = words.join(' ');
  return text.startsWith('[') ? (JSON.parse(text) as string[]) : words;
}

describe.each(IMAGES)('$file', (image) => {
  it('builds in stages on a supported Node LTS slim image', async () => {
    const { args, stages } = await parseDockerfile(image.file);
    expect(args.get('NODE_IMAGE')).toMatch(LTS_IMAGE);
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const named = new Set<string>();
    for (const stage of stages) {
      expect(stage.from === '${NODE_IMAGE}' || named.has(stage.from), stage.from).toBe(true);
      if (stage.name !== null) named.add(stage.name);
    }
    expect(stages.at(-1)!.from).toBe('${NODE_IMAGE}');
  });

  it('installs production dependencies only', async () => {
    const { stages } = await parseDockerfile(image.file);
    // A build stage (the web page's) may install its tools: only what it
    // built is copied on, as a dist/ folder.
    const copiedFrom = stages.flatMap((s) =>
      (s.instructions.filter((i) => i.getKeyword() === 'COPY') as Copy[]).flatMap((c) => {
        const from = c.getFromFlag()?.getValue();
        const source = c.getArguments()[0]?.getValue() ?? '';
        return from === undefined ? [] : [{ from, source }];
      }),
    );
    const builds = new Set(copiedFrom.filter((c) => c.from !== 'sources').map((c) => c.from));
    for (const c of copiedFrom.filter((c) => builds.has(c.from))) {
      expect(c.source).toMatch(/\/dist\/[a-z-]+$/);
    }
    const installs = stages
      .filter((s) => !builds.has(s.name ?? ''))
      .flatMap((s) => argumentsOf(s, 'RUN'))
      .map((w) => w.join(' '))
      .filter((r) => /npm (ci|install)/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(
      /npm ci --omit=dev --workspace @tessera\/[a-z-]+ --include-workspace-root=false/,
    );
  });

  it('leaves out tests, fixtures and scripts of every workspace it copies', async () => {
    const { stages } = await parseDockerfile(image.file);
    const final = stages.at(-1)!;
    const copies = final.instructions.filter((i) => i.getKeyword() === 'COPY') as Copy[];
    // Everything in the final image comes from the stage that removes them.
    expect(copies.length).toBeGreaterThan(0);
    expect(copies.map((c) => c.getFromFlag()?.getValue())).toEqual(copies.map(() => 'sources'));
    const sources = stages.find((s) => s.name === 'sources')!;
    const copied = (sources.instructions.filter((i) => i.getKeyword() === 'COPY') as Copy[])
      .filter((c) => c.getFromFlag() === null || c.getFromFlag() === undefined)
      .map((c) => c.getArguments()[0]!.getValue());
    expect(copied).toContain(image.workspace);
    const runs = argumentsOf(sources, 'RUN')
      .map((w) => w.join(' '))
      .join(' ');
    for (const workspace of copied) {
      for (const folder of NOT_RUN) {
        const exists = await stat(join(REPO_ROOT, workspace, folder)).then(
          (s) => s.isDirectory(),
          () => false,
        );
        if (exists)
          expect(runs, `${workspace}/${folder}`).toMatch(
            new RegExp(`rm -rf [^&]*\\b${workspace}/${folder}\\b`),
          );
      }
    }
    expect(runs).toContain(`find ${copied.join(' ')} -name '*.test.ts' -delete`);
    // And nothing from tests/ (the demo, the test FHIR server) is copied at all.
    expect(copied.filter((c) => c.startsWith('tests'))).toEqual([]);
  });

  it('runs as a numeric non-root user, with declared volumes for all it writes', async () => {
    const { stages } = await parseDockerfile(image.file);
    const final = stages.at(-1)!;
    const users = argumentsOf(final, 'USER').map((w) => w.join(' '));
    expect(users).toHaveLength(1);
    expect(users[0]).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    const volumes = argumentsOf(final, 'VOLUME').flatMap(jsonOrWords);
    expect(volumes.sort()).toEqual(image.volumes);
  });

  it('checks its health on the port it exposes and starts its service', async () => {
    const { stages } = await parseDockerfile(image.file);
    const final = stages.at(-1)!;
    expect(argumentsOf(final, 'EXPOSE')).toEqual([[image.port]]);
    const [health] = argumentsOf(final, 'HEALTHCHECK');
    expect(health?.join(' ')).toContain(`http://127.0.0.1:${image.port}/healthz`);
    expect(jsonOrWords(argumentsOf(final, 'ENTRYPOINT')[0]!)).toEqual(['node', image.bin]);
  });

  it('bakes in no secret', async () => {
    const { args, stages } = await parseDockerfile(image.file);
    const names = [
      ...args.keys(),
      ...stages
        .flatMap((s) => [...argumentsOf(s, 'ENV'), ...argumentsOf(s, 'ARG')])
        .map((w) => w[0]!.split('=')[0]!),
    ];
    expect(names.filter((n) => SECRET_NAME.test(n))).toEqual([]);
  });
});

describe('the build context', () => {
  it('leaves out local installs, data and history', async () => {
    const ignored = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['**/node_modules', '.data', '.git']) expect(ignored).toContain(entry);
  });

  it('holds a Dockerfile for each service, and no other', async () => {
    const files = (await readdir(join(REPO_ROOT, 'deploy/docker'))).filter((f) =>
      f.endsWith('Dockerfile'),
    );
    expect(files.sort()).toEqual(IMAGES.map((i) => i.file).sort());
  });
});
