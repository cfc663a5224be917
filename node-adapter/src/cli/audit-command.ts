// `tessera-node audit verify --state-dir <dir>`: checks the hash chain.
import { parseArgs } from 'node:util';
import { verifyAuditLog } from '../audit/file-audit-log.ts';

const HELP = `Usage: tessera-node audit verify --state-dir <dir>

Checks the node's hash-chained audit log; names the first edited, deleted,
reordered or missing entry. Exits 1 when the log is not intact.`;

export async function runAudit(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'state-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals[0] !== 'verify' || values['state-dir'] === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const result = await verifyAuditLog(values['state-dir']);
  if (result.ok) {
    console.log(`audit log intact: ${result.count} entries`);
    return 0;
  }
  console.error(`audit log broken at entry ${result.index}: ${result.reason}`);
  return 1;
}
