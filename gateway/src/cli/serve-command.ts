// `tessera-gateway serve --config <file>`: runs the gateway until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { listen } from '@tessera/http-kit';
import { ConfigError } from '@tessera/schemas';
import { createGatewayService, readGatewayConfig } from '../app/gateway.ts';
import { exitOnProcessFaults } from '../app/process-faults.ts';

const HELP = `Usage: tessera-gateway serve --config <file>

Environment: DATABASE_URL selects PostgreSQL for the state store (default:
PGlite in store.dataDir); TESSERA_GATEWAY_<KEY>__<SUBKEY> overrides the file.`;

export async function runServe(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || values.config === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  try {
    const config = await readGatewayConfig(values.config);
    const gateway = await createGatewayService(config);
    const { server, url } = await listen(gateway.app, config.listen.host, config.listen.port);
    console.error(`tessera-gateway listening on ${url}`);
    let exitCode = 0;
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (code: number): void => {
        exitCode = Math.max(exitCode, code);
        if (stopping) return;
        stopping = true;
        gateway.markNotReady();
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.once('SIGINT', () => stop(0));
      process.once('SIGTERM', () => stop(0));
      exitOnProcessFaults(process, { logger: gateway.logger, stop });
    });
    await gateway.close();
    return exitCode;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tessera-gateway: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
