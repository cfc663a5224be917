// tessera: the researcher's command line.
const HELP = `Usage: tessera <command> [options]

Commands:
  query      submit a cohort query and print the merged answer
  catalogue  search what data exists where
  nodes      list nodes and their health

Run 'tessera <command> --help' for a command's options.`;

const [command] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h') {
  console.log(HELP);
} else {
  console.error(`tessera: unknown command "${command}"\n\n${HELP}`);
  process.exitCode = 2;
}
