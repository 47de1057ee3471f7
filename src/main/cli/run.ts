/** `inkwell` command dispatch: argv in, exit code out; all output through CliIo. */
import { version } from '../../../package.json';
import { resolveHome } from '../engine';
import { batchCommand } from './batch-command';
import { generateCommand } from './generate-command';
import { HELP } from './help';
import { logitsCommand, tokenizeCommand } from './inspect-commands';
import { attentionCommand, lensCommand, probsCommand } from './inspector-commands';
import { describeError, EXIT, exitCodeFor, SHOW_HELP, UsageError, type CliIo } from './io';
import { modelsCommand } from './models-command';
import { serveCommand } from './serve-command';

type Command = (argv: readonly string[], io: CliIo, home: string) => Promise<number>;

const COMMANDS: Readonly<Record<string, Command>> = {
  models: modelsCommand,
  generate: generateCommand,
  batch: batchCommand,
  logits: logitsCommand,
  tokenize: tokenizeCommand,
  attention: attentionCommand,
  probs: probsCommand,
  lens: lensCommand,
  serve: serveCommand,
};

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.stderr(HELP[''] ?? '');
      return EXIT.badInput;
    }
    if (first === '--help' || first === '-h') return showHelp(io, '');
    if (first === '--version' || first === '-v') {
      io.stdout(`${version}\n`);
      return EXIT.ok;
    }
    if (first === 'help') {
      const topic = rest[0] ?? '';
      if (!(topic in HELP)) throw new UsageError('', `no help for unknown command ${JSON.stringify(topic)}`);
      return showHelp(io, topic);
    }
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw new UsageError('', `unknown command ${JSON.stringify(first)}`);
    const code = await command(rest, io, resolveHome(io.env));
    return code === SHOW_HELP ? showHelp(io, first) : code;
  } catch (error) {
    io.stderr(describeError(error));
    return exitCodeFor(error);
  }
}

function showHelp(io: CliIo, topic: string): number {
  io.stdout(HELP[topic] ?? HELP[''] ?? '');
  return EXIT.ok;
}
