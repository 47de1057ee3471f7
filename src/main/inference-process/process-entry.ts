/**
 * Entry of the inference process: an Electron utilityProcess in the desktop
 * app, a Node child process (child_process.fork with IPC) in serve mode.
 * It owns the Engine, so that running out of memory or a native crash in
 * onnxruntime never takes the window, the documents or the history with it.
 *
 * Usage: `inference-process.js [--home DIR]`; without `--home`, $INKWELL_HOME.
 */
import { Engine } from '../engine';
import { serveInference, type ParentLink } from './server';
import type { ReplyMessage } from '../common/inference-protocol';

/** Electron's utilityProcess channel (absent under plain Node). */
interface ElectronParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function fatal(message: string): never {
  log(`inference process: ${message}`);
  process.exit(1);
}

function homeFromArguments(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('--home');
  const value = at >= 0 ? argv[at + 1] : undefined;
  return value ?? process.env.INKWELL_HOME;
}

function connectToParent(): ParentLink {
  const parentPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (parentPort) {
    return {
      post: (message: ReplyMessage) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
    };
  }
  const send = process.send?.bind(process);
  if (!send) fatal('no parent channel: start me with child_process.fork (IPC) or Electron utilityProcess.fork');
  // The parent is gone (normal quit or crash): nothing would ever read our replies.
  process.on('disconnect', () => process.exit(0));
  return {
    post: (message: ReplyMessage) => {
      send(message);
    },
    onMessage: (listener) => process.on('message', listener),
  };
}

const home = homeFromArguments(process.argv.slice(2));
if (!home) fatal('no data directory: pass --home DIR or set INKWELL_HOME');

// A stray async failure must not end a process that other requests depend on;
// the request that caused it has already been answered by its own handler.
process.on('uncaughtException', (error) => log(`inference process: uncaught exception: ${error.stack ?? error.message}`));
process.on('unhandledRejection', (reason) => log(`inference process: unhandled rejection: ${String(reason)}`));

let engine: Engine;
try {
  engine = new Engine({ home });
} catch (error) {
  fatal(`could not start the engine: ${error instanceof Error ? error.message : String(error)}`);
}
serveInference(engine, connectToParent(), log);
