// tessera-gateway: the central gateway's command line.
import { runCommands } from '@tessera/schemas';

process.exitCode = await runCommands(
  'tessera-gateway',
  {
    serve: {
      summary: 'run the gateway API',
      load: async () => (await import('./serve-command.ts')).runServe,
    },
    audit: {
      summary: 'verify the audit log',
      load: async () => (await import('./audit-command.ts')).runAudit,
    },
    keys: {
      summary: 'list or rotate the node-token signing keys',
      load: async () => (await import('./keys-command.ts')).runKeys,
    },
  },
  process.argv.slice(2),
  console,
);
