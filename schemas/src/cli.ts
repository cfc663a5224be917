// The shape every Tessera command line shares: named commands loaded lazily,
// a generated help text, exit code 2 for misuse. No I/O of its own: the
// program's entry point passes in where messages go (`console`).

export interface CommandSpec {
  readonly summary: string;
  /** Loads the command's module only when it runs, so `--help` starts instantly. */
  readonly load: () => Promise<(argv: string[]) => Promise<number>>;
}

/** Where the dispatcher writes help and misuse messages; `console` satisfies it. */
export interface CommandOutput {
  log(text: string): void;
  error(text: string): void;
}

/**
 * Runs the command named by `argv[0]`; returns the exit code. Help goes to
 * `output.log`, an unknown command to `output.error`.
 * @example process.exitCode = await runCommands('tessera-node', { serve: { summary: 'run the API', load } }, process.argv.slice(2), console);
 */
export async function runCommands(
  program: string,
  commands: Readonly<Record<string, CommandSpec>>,
  argv: readonly string[],
  output: CommandOutput,
): Promise<number> {
  const help = `Usage: ${program} <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run '${program} <command> --help' for a command's options.`;
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    output.log(help);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    output.error(`${program}: unknown command "${name}"\n\n${help}`);
    return 2;
  }
  return (await command.load())(rest);
}
