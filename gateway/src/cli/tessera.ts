// tessera: the researcher's command line. Every failure ends as one line on
// stderr and an exit code (researcher/client.ts EXIT), never a stack trace.
import { runCommands } from '@tessera/schemas';
import { CliError, EXIT } from './researcher/client.ts';

const commands = async () => await import('./researcher-commands.ts');
const session = async () => await import('./researcher/login.ts');

try {
  process.exitCode = await runCommands(
    'tessera',
    {
      login: {
        summary: 'sign in (in a browser, or as a service account) and save the token',
        load: async () => (await session()).runLogin,
      },
      logout: {
        summary: 'forget the saved token',
        load: async () => (await session()).runLogout,
      },
      catalogue: {
        summary: 'what data exists where: datasets, codes and names',
        load: async () => (await commands()).runCatalogue,
      },
      query: {
        summary: 'submit a cohort query; --wait to follow it and print the merged answer',
        load: async () => (await commands()).runQuery,
      },
      status: {
        summary: "a query's status and each node's outcome",
        load: async () => (await commands()).runStatus,
      },
      get: {
        summary: "a query's merged answer",
        load: async () => (await commands()).runGet,
      },
      history: {
        summary: 'your past queries',
        load: async () => (await commands()).runHistory,
      },
      nodes: {
        summary: 'the nodes and their health',
        load: async () => (await commands()).runNodes,
      },
    },
    process.argv.slice(2),
    console,
  );
} catch (err) {
  // parseArgs's own errors (an unknown option, a missing value) are misuse.
  const code = (err as { code?: unknown } | null)?.code;
  const misuse = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
  console.error(`tessera: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = err instanceof CliError ? err.exitCode : misuse ? EXIT.refused : EXIT.error;
}
