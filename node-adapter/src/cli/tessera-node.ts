// tessera-node: the regional node adapter's command line.
const HELP = `Usage: tessera-node <command> [options]

Commands:
  ingest     load FHIR NDJSON / Bundles into a DuckDB store
  evaluate   answer one query from a store
  serve      run the node API
  generate   write a synthetic region as Bulk Data NDJSON
  sync       refresh the store from a FHIR server
  audit      verify the audit log

Run 'tessera-node <command> --help' for a command's options.`;

const [command] = process.argv.slice(2);
if (command === undefined || command === '--help' || command === '-h') {
  console.log(HELP);
} else {
  console.error(`tessera-node: unknown command "${command}"\n\n${HELP}`);
  process.exitCode = 2;
}
