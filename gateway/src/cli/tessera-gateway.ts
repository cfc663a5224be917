// tessera-gateway: the central gateway's command line.
const HELP = `Usage: tessera-gateway <command> [options]

Commands:
  serve      run the gateway API
  audit      verify the audit log

Run 'tessera-gateway <command> --help' for a command's options.`;

const [command] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h') {
  console.log(HELP);
} else {
  console.error(`tessera-gateway: unknown command "${command}"\n\n${HELP}`);
  process.exitCode = 2;
}
