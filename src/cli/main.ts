import { type CliIo, type Command, EXIT_USAGE, UsageError, oneLine, quoted } from './command.js';
import { loadtestCommand } from './loadtest-command.js';
import { rulesCommand } from './rules-command.js';
import { watchCommand } from './watch-command.js';

/** Every subcommand; a new one is one more entry. */
export const COMMANDS: readonly Command[] = [rulesCommand, watchCommand, loadtestCommand];

const BIN = 'livekit-agents-metrics';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `Usage: ${BIN} <command> [options]

Commands:
${list}

Run '${BIN} <command> --help' for a command's options.
`;
}

/** Runs the command line (without `node` and the script) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.stderr(usage());
    return EXIT_USAGE;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    const command = name === 'help' && args[0] ? find(args[0]) : undefined;
    if (name === 'help' && args[0] && !command) return unknown(args[0], io);
    io.stdout(command ? command.usage : usage());
    return 0;
  }
  const command = find(name);
  if (!command) return unknown(name, io);
  try {
    return await command.run(args, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(
      `${BIN} ${command.name}: ${oneLine(err.message)}\nRun '${BIN} ${command.name} --help'.\n`,
    );
    return EXIT_USAGE;
  }
}

const find = (name: string) => COMMANDS.find((c) => c.name === name);

function unknown(name: string, io: CliIo): number {
  const kind = name.startsWith('-') ? 'option' : 'command';
  io.stderr(
    `${BIN}: unknown ${kind} ${quoted(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')}.\n` +
      `Run '${BIN} --help' for usage.\n`,
  );
  return EXIT_USAGE;
}
