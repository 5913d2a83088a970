import { printable } from '../view/text-report.js';

/** Where a command writes; the process's streams in the binary, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** One subcommand of `livekit-agents-metrics`. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The command's `--help` text. */
  usage: string;
  /** Runs with the arguments after the command's name; resolves to the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Exit codes: 1 for a run that failed (a bad rule, an unreadable file), 2 for bad usage. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line itself: reported with a pointer to `--help`, exit 2. */
export class UsageError extends Error {}

/** A command-line value quoted in a message: on one line, without controls, and cut short (an
 * argument can be anything, a megabyte or an escape sequence). */
export const quoted = (text: string): string => `"${printable(text, 60)}"`;

/** A message printed to the terminal: on one line, without controls, at most 300 code points. */
export const oneLine = (text: string): string => printable(text, 300);
