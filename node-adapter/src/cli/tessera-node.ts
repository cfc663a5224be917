// tessera-node: the regional node adapter's command line.
import { runCommands } from '@tessera/schemas';

process.exitCode = await runCommands(
  'tessera-node',
  {
    ingest: {
      summary: 'load FHIR NDJSON / Bundles into a DuckDB store',
      load: async () => (await import('./ingest-command.ts')).runIngest,
    },
    evaluate: {
      summary: 'answer one query from a store',
      load: async () => (await import('./evaluate-command.ts')).runEvaluate,
    },
    serve: {
      summary: 'run the node API',
      load: async () => (await import('./serve-command.ts')).runServe,
    },
    generate: {
      summary: 'write a synthetic region as Bulk Data NDJSON',
      load: async () => (await import('./generate-command.ts')).runGenerate,
    },
    sync: {
      summary: 'refresh the store from a FHIR server (Bulk Data export or paged search)',
      load: async () => (await import('./sync-command.ts')).runSync,
    },
    audit: {
      summary: 'verify the audit log',
      load: async () => (await import('./audit-command.ts')).runAudit,
    },
    releases: {
      summary: 'export what left this site: every released answer and its privacy cost',
      load: async () => (await import('./releases-command.ts')).runReleases,
    },
  },
  process.argv.slice(2),
  console,
);
