// tessera-node: the regional node adapter's command line. Each command's
// module loads only when it runs, so `--help` starts instantly.
const COMMANDS: Record<
  string,
  { summary: string; run: () => Promise<(argv: string[]) => Promise<number>> }
> = {
  ingest: {
    summary: 'load FHIR NDJSON / Bundles into a DuckDB store',
    run: async () => (await import('./ingest-command.ts')).runIngest,
  },
  evaluate: {
    summary: 'answer one query from a store',
    run: async () => (await import('./evaluate-command.ts')).runEvaluate,
  },
  serve: {
    summary: 'run the node API',
    run: async () => (await import('./serve-command.ts')).runServe,
  },
  generate: {
    summary: 'write a synthetic region as Bulk Data NDJSON',
    run: async () => (await import('./generate-command.ts')).runGenerate,
  },
  sync: {
    summary: 'refresh the store from a FHIR server (Bulk Data export or paged search)',
    run: async () => (await import('./sync-command.ts')).runSync,
  },
  audit: {
    summary: 'verify the audit log',
    run: async () => (await import('./audit-command.ts')).runAudit,
  },
};

const HELP = `Usage: tessera-node <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run 'tessera-node <command> --help' for a command's options.`;

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (name === undefined || name === '--help' || name === '-h') {
  console.log(HELP);
} else if (!command) {
  console.error(`tessera-node: unknown command "${name}"\n\n${HELP}`);
  process.exitCode = 2;
} else {
  process.exitCode = await (await command.run())(rest);
}
