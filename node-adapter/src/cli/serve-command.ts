// `tessera-node serve --config <file>`: runs the node API until SIGINT/SIGTERM.
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { listen } from '@tessera/http-kit';
import { ConfigError } from '@tessera/schemas';
import { type NodeProblemError, isNodeProblem } from '../errors.ts';
import { createNodeService, readNodeConfig } from '../app/node.ts';

const HELP = `Usage: tessera-node serve --config <file> [--allow-open-policy]

Serves POST /v1/evaluate, GET /v1/catalogue, /healthz, /readyz and /metrics.
Environment variables TESSERA_NODE_<KEY>__<SUBKEY> override the file
(e.g. TESSERA_NODE_LISTEN__PORT=9000).

  --allow-open-policy   accept the "open" policy (no disclosure control; local testing only)`;

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'allow-open-policy': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values.config === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const configPath = resolve(values.config);
  try {
    const config = await readNodeConfig(configPath);
    const node = await createNodeService(config, {
      baseDir: dirname(configPath),
      allowOpenPolicy: values['allow-open-policy'] === true,
    });
    const { server, url } = await listen(node.app, config.listen.host, config.listen.port);
    console.error(`tessera-node ${config.nodeId} listening on ${url}`);
    await new Promise<void>((resolveStop) => {
      const stop = (): void => {
        server.close(() => resolveStop());
        server.closeAllConnections();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await node.close();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError || refusesToStart(err)) {
      console.error(`tessera-node: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** The start-up refusals an operator fixes in the configuration: a message, no stack trace. */
function refusesToStart(err: unknown): err is NodeProblemError {
  if (!isNodeProblem(err)) return false;
  switch (err.code) {
    case 'ERR_POLICY_INVALID':
    case 'ERR_OPEN_POLICY_REFUSED':
    case 'ERR_STORE_LAYOUT':
    case 'ERR_STORE_MISSING':
      return true;
    default:
      return false;
  }
}
