// `tessera-gateway keys list | rotate`: the keys the gateway signs its node
// requests with. A rotation only writes the store; running gateways read it
// on their heartbeat and follow the schedule in auth/key-schedule.ts: the new
// key is published at once and signs after nodeTokens.keyPublicationDelaySec,
// and the key it replaces stays published until its last token has expired.
import { parseArgs } from 'node:util';
import { ConfigError } from '@tessera/schemas';
import { type GatewaySettings, readGatewayConfig, storeTargetOf } from '../app/gateway.ts';
import {
  type KeyPlan,
  type KeySchedulePolicy,
  generateSigningKey,
  keySchedule,
  nodeTokenKeyPolicy,
} from '../auth/index.ts';
import type { SigningKeyRecord, Store } from '../store/index.ts';
import {
  type CommandIo,
  consoleIo,
  describeError,
  openExistingStore,
  usageError as printUsageError,
} from './store-command.ts';
import { table } from './table.ts';

const USAGE = `Usage: tessera-gateway keys <list | rotate> --config <file>

The ES256 keys the gateway signs its node requests with, published at
/.well-known/jwks.json.

  list     every key: which signs now, which is next, and until when a
           retired key stays published
  rotate   makes a new key. It is published at once; running gateways sign
           with it after nodeTokens.keyPublicationDelaySec (default 15
           minutes), once every node has fetched it. The key it replaces
           signs until then and stays published until its last token has
           expired. With PGlite (store.dataDir) stop the gateway first; with
           PostgreSQL, rotate while the gateways run.

Options:
  --config <file>   the gateway's configuration file; DATABASE_URL and
                    TESSERA_GATEWAY_* apply as for serve
  -h, --help        show this help`;

/** PGlite lets one process open its data directory: the one thing an operator must do differently there. */
const STOP_THE_GATEWAY =
  'stop the gateway, run this again, then start the gateway (with PostgreSQL, keys rotate runs beside running gateways)';

type Subcommand = 'list' | 'rotate';

/**
 * Runs `keys <argv…>` (argv starts after `keys`) and returns the exit code:
 * 0 done, 1 failed, 2 usage error.
 */
export async function runKeys(argv: readonly string[], io: CommandIo = consoleIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(io, describeError(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if ((subcommand !== 'list' && subcommand !== 'rotate') || rest.length > 0) {
    return usageError(
      io,
      subcommand === undefined
        ? 'missing subcommand'
        : `unknown subcommand "${positionals.join(' ')}"`,
    );
  }
  if (values.config === undefined) return usageError(io, 'give --config <file>');

  let config: GatewaySettings;
  try {
    config = await readGatewayConfig(values.config, io.env);
  } catch (err) {
    const why = err instanceof ConfigError ? err.message : describeError(err);
    io.err(`keys: cannot read ${values.config}: ${why}`);
    return 1;
  }
  let store: Store;
  try {
    store = await openExistingStore(storeTargetOf(config), STOP_THE_GATEWAY);
  } catch (err) {
    io.err(`keys: ${describeError(err)}`);
    return 1;
  }
  const policy = nodeTokenKeyPolicy(config.nodeTokens.keyPublicationDelaySec);
  try {
    return await run(subcommand, store, policy, io);
  } catch (err) {
    io.err(`keys: cannot ${subcommand} the keys: ${describeError(err)}`);
    return 1;
  } finally {
    await store.close();
  }
}

async function run(
  subcommand: Subcommand,
  store: Store,
  policy: KeySchedulePolicy,
  io: CommandIo,
): Promise<number> {
  const now = new Date();
  if (subcommand === 'rotate') {
    const fresh = await store.rotateSigningKey(async () => {
      const made = await generateSigningKey();
      return { kid: made.kid, privateJwk: made.privateJwk };
    }, now);
    const plan = keySchedule(await store.listSigningKeys(), now, policy).plan;
    const added = plan.find((p) => p.key.kid === fresh.kid);
    io.out(
      added?.role === 'next'
        ? `rotated: ${fresh.kid} is published now and signs node tokens from ${iso(added.signsFrom)}`
        : `rotated: ${fresh.kid} is published now and signs node tokens at once`,
    );
    io.out('');
    printPlan(plan, io);
    return 0;
  }
  const plan = keySchedule(await store.listSigningKeys(), now, policy).plan;
  if (plan.length === 0) {
    io.out('no signing keys yet: the gateway makes its first when it starts');
    return 0;
  }
  printPlan(plan, io);
  return 0;
}

function printPlan(plan: readonly KeyPlan<SigningKeyRecord>[], io: CommandIo): void {
  const rows = plan.map(({ key, role, signsFrom, publishedUntil }) => [
    key.kid,
    role,
    iso(key.createdAt),
    key.retiredAt === null ? '-' : iso(key.retiredAt),
    role === 'next' ? iso(signsFrom) : '-',
    publishedUntil === null ? '-' : iso(publishedUntil),
  ]);
  const header = ['kid', 'role', 'created', 'retired', 'signs from', 'published until'];
  for (const line of table(header, rows)) io.out(line);
}

const iso = (date: Date): string => date.toISOString();

function usageError(io: CommandIo, message: string): number {
  return printUsageError(io, 'keys', message, USAGE);
}
