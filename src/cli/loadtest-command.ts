import { writeFile } from 'node:fs/promises';
import { MetricsConfigError } from '../errors.js';
import { parseLoadTestArgs } from '../loadtest/args.js';
import { LoadTestError } from '../loadtest/dispatch.js';
import { renderPlot } from '../loadtest/plot.js';
import { renderCapacityTable, renderProgress } from '../loadtest/report.js';
import { safeJson } from '../view/text-report.js';
import { type CliIo, type Command, EXIT_FAILURE, UsageError, oneLine, quoted } from './command.js';

const USAGE = `Usage: livekit-agents-metrics loadtest --agent-name <name> [options]

Calls your agent with synthetic callers, more at each step, and measures what each caller hears:
the wait from the end of its question to the first sound of the answer. Each call is a room of
its own: a caller joins, dispatches the agent by name (explicit dispatch), and speaks utterances
with pauses like a person's. Prints a live line while a step runs and a capacity table at the end.
The rooms it made are deleted at the end, and on Ctrl-C (which prints the table so far).

Options:
  --url <ws url>            LiveKit server URL (default: $LIVEKIT_URL)
  --agent-name <name>       the agentName your worker registers (required)
  --steps <n,n,...>         concurrent calls of each step (default: 1,2,4,8,16)
  --max-calls <n>           steps 1, 2, 4, … up to n
  --hold <n>                one step of n calls, for --duration seconds
  --duration <seconds>      with --hold: how long to hold (default: 60)
  --step-duration <seconds> how long each step runs (default: 60)
  --budget-p90 <ms>         stop after a step whose heard p90 is over this
  --max-failure-rate <0-1>  stop after a step with more failed turns and calls (default: 0.2)
  --wav <file>              a WAV utterance to speak (16-bit PCM; repeat for more; default:
                            the five bundled utterances)
  --answer-timeout <s>      a turn unanswered this long is given up (default: 15)
  --join-timeout <s>        a call whose agent has not joined this long fails (default: 30)
  --pause <min>-<max>       seconds a caller pauses after an answer (default: 0.8-2)
  --room-prefix <prefix>    prefix of the rooms it creates (default: loadtest)
  --topic <topic>           the agent's metrics topic (default: agent-metrics)
  --seed <n>                seed of the pauses and utterance order (default: 1)
  --json                    print the result as JSON instead of the table
  --plot <file.svg>         write heard latency against concurrency as an SVG
  -h, --help                show this help

Environment:
  LIVEKIT_API_KEY, LIVEKIT_API_SECRET   to mint the callers' tokens and dispatch (required)
  LIVEKIT_URL                           server URL, when --url is not given

Exit codes: 0 the run ended (its table says how), 1 it could not run (server, credentials, no
agent, a WAV file), 2 bad usage, 130 interrupted (Ctrl-C).

Example:
  LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \\
    npx livekit-agents-metrics loadtest --agent-name support --max-calls 8 --budget-p90 1500
`;

export const EXIT_INTERRUPTED = 130;

export const loadtestCommand: Command = {
  name: 'loadtest',
  summary: 'ramp up synthetic callers and measure the latency they hear, per step',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseLoadTestArgs(args, process.env);
    } catch (error) {
      if (error instanceof MetricsConfigError) throw new UsageError(describeConfig(error));
      throw error;
    }
    if (parsed === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    // @livekit/rtc-node logs at debug level to stdout unless NODE_ENV is production
    process.env.NODE_ENV ??= 'production';
    const abort = new AbortController();
    let interrupts = 0;
    const onSignal = () => {
      interrupts++;
      if (interrupts === 1) {
        io.stderr(
          '\nstopping: the calls leave and their rooms are deleted (Ctrl-C again to quit at once)\n',
        );
        abort.abort();
      } else process.exit(EXIT_INTERRUPTED);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tty = process.stderr.isTTY === true;
    let lastLine = 0;
    const steps = parsed.options.steps?.length ?? 5;
    try {
      // loaded when it runs: it needs @livekit/rtc-node, an optional peer the other commands do not
      const { runLoadTest } = await import('../loadtest/ramp.js');
      const result = await runLoadTest({
        ...parsed.options,
        signal: abort.signal,
        onProgress: (p) => {
          if (tty) io.stderr(`\r\x1b[2K${renderProgress(p, steps)}`);
          else if (Date.now() - lastLine >= 5_000 || p.elapsedMs >= p.durationMs) {
            lastLine = Date.now();
            io.stderr(`${renderProgress(p, steps)}\n`);
          }
        },
      });
      if (tty) io.stderr('\n');
      io.stdout(parsed.json ? safeJson(result) + '\n' : renderCapacityTable(result));
      if (parsed.plot !== undefined) {
        await writeFile(parsed.plot, renderPlot(result, parsed.options.budgetP90Ms));
        io.stderr(`plot written to ${quoted(parsed.plot)}\n`);
      }
      if (result.stoppedBy === 'interrupted') return EXIT_INTERRUPTED;
      if (result.stoppedBy === 'no-agent') {
        io.stderr(`livekit-agents-metrics loadtest: ${oneLine(result.reason)}\n`);
        return EXIT_FAILURE;
      }
      return 0;
    } catch (error) {
      if (error instanceof LoadTestError) {
        io.stderr(`livekit-agents-metrics loadtest: ${oneLine(error.message)}\n`);
        return EXIT_FAILURE;
      }
      if (error instanceof MetricsConfigError) {
        io.stderr(`livekit-agents-metrics loadtest: ${oneLine(describeConfig(error))}\n`);
        return EXIT_FAILURE;
      }
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // the SDK's native side keeps the process alive until it is disposed
      const rtc = await import('@livekit/rtc-node').catch(() => undefined);
      await rtc?.dispose().catch(() => {});
    }
  },
};

/** A MetricsConfigError's problems as one line: `--flag: what to change; …`. */
function describeConfig(error: MetricsConfigError): string {
  return error.problems.map((p) => `${p.option}: ${p.message}`).join('; ');
}
