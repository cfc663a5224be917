// tessera: the researcher's command line.
import { runCommands } from '@tessera/schemas';

process.exitCode = await runCommands(
  'tessera',
  {
    query: {
      summary: 'submit a cohort query and print the merged answer',
      load: async () => (await import('./researcher-commands.ts')).runQuery,
    },
    catalogue: {
      summary: 'search what data exists where',
      load: async () => (await import('./researcher-commands.ts')).runCatalogue,
    },
    nodes: {
      summary: 'list nodes and their health',
      load: async () => (await import('./researcher-commands.ts')).runNodes,
    },
  },
  process.argv.slice(2),
  console,
);
