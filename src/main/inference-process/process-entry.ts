/**
 * Entry of the inference process: an Electron utilityProcess in the desktop
 * app, a Node child process (child_process.fork with IPC) in serve mode.
 * It owns the Engine, so that running out of memory or a native crash in
 * onnxruntime never takes the window, the documents or the history with it.
 *
 * Usage: `inference-process.js [--home DIR]`; without `--home`, $INKWELL_HOME.
 */
import { Engine } from '../engine';
import { errorMessage } from '../common/errors';
import type { ReplyMessage } from '../common/inference-protocol';
import { importInWorker, importWorkerEntry, modelTaskInWorker } from './import-in-worker';
import { loadTaskProgress, runModelTask } from './model-task';
import { serveInference, type InferenceEngine, type ParentLink } from './server';

/** Electron's utilityProcess channel (absent under plain Node). */
interface ElectronParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

/** How long a parting process waits for the engine to let go of its sessions before it ends anyway. */
const DISPOSE_TIMEOUT_MS = 3_000;

let parentGone = false;

function log(line: string): void {
  // Once the parent is gone, whoever reads our stderr is gone too, or does not care.
  if (parentGone) return;
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // stderr closed: nothing to tell anyone.
  }
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

function connectToParent(onGone: () => void): ParentLink {
  const parentPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (parentPort) {
    // Chromium ends a utility process together with its browser process; there is nothing to notice.
    return {
      post: (message: ReplyMessage) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data)),
    };
  }
  const send = process.send?.bind(process);
  if (!send) fatal('no parent channel: start me with child_process.fork (IPC) or Electron utilityProcess.fork');
  // The parent is gone (normal quit or crash): nothing would ever read our replies.
  process.on('disconnect', onGone);
  return {
    post: (message: ReplyMessage) => {
      if (parentGone) return;
      // A failed send (EPIPE, channel closed) means the parent died before 'disconnect' arrived.
      send(message, undefined, undefined, (error) => {
        if (error) onGone();
      });
    },
    onMessage: (listener) => process.on('message', listener),
  };
}

/** The engine as the server uses it, with imports moved to a worker thread when the bundle has one. */
function serverEngine(engine: Engine, home: string): InferenceEngine {
  const entry = importWorkerEntry();
  const loading: Pick<InferenceEngine, 'load' | 'loadedDetails'> = {
    load: async (modelId, { onProgress, ...options }) => {
      const outcome = await engine.load(modelId, { ...options, onProgress: (p) => onProgress(loadTaskProgress(p)) });
      return { ...outcome, unloaded: [...outcome.unloaded] };
    },
    loadedDetails: () => engine.loadedDetails(),
  };
  if (!entry) {
    log('inference process: model-import-worker.js is missing; imports run on the main thread');
    return Object.assign(engine, loading, { runModelTask: (work, hooks) => runModelTask(engine.models, work, hooks) } satisfies Pick<InferenceEngine, 'runModelTask'>);
  }
  return {
    ...loading,
    runModelTask: (work, { signal, onProgress }) => modelTaskInWorker(entry, { home, work }, onProgress, signal),
    models: { import: (srcDir, id) => importInWorker(entry, { home, srcDir, id }) },
    generate: (request) => engine.generate(request),
    tokenize: (modelId, text) => engine.tokenize(modelId, text),
    tokenStrings: (modelId, ids) => engine.tokenStrings(modelId, ids),
    logits: (modelId, prompt, all) => engine.logits(modelId, prompt, all),
    scoreContinuations: (modelId, prompt, continuations, device, precision) => engine.scoreContinuations(modelId, prompt, continuations, device, precision),
    loaded: () => engine.loaded(),
    probeDevices: () => engine.probeDevices(),
    unload: (modelId) => engine.unload(modelId),
    releaseIdleMemory: () => engine.releaseIdleMemory(),
    inspector: engine.inspector,
    wordPiece: (text) => engine.wordPiece(text),
    importBertTokenizer: (dir) => engine.importBertTokenizer(dir),
  };
}

const home = homeFromArguments(process.argv.slice(2));
if (!home) fatal('no data directory: pass --home DIR or set INKWELL_HOME');

// Something threw outside every request's handler: the process's state is unknown, so it ends and
// the main side's restart path takes over (the next request starts a fresh process).
process.on('uncaughtException', (error) => {
  log(`inference process: uncaught exception, exiting: ${error.stack ?? error.message}`);
  process.exit(1);
});
process.on('unhandledRejection', (reason) => log(`inference process: unhandled rejection: ${errorMessage(reason)}`));

let engine: Engine;
try {
  engine = new Engine({ home });
} catch (error) {
  fatal(`could not start the engine: ${errorMessage(error)}`);
}

/**
 * Ends the process quietly once the parent is gone: no replies and no logs, the sessions released
 * first (exiting while onnxruntime runs a step in a worker thread aborted with "terminate called
 * after throwing an instance of 'Napi::Error'"), and a hard stop if that takes too long.
 */
function leave(): void {
  if (parentGone) return;
  parentGone = true;
  const stop = setTimeout(() => process.kill(process.pid, 'SIGKILL'), DISPOSE_TIMEOUT_MS);
  void server
    .stop()
    .then(() => engine.dispose())
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(stop);
      process.exit(0);
    });
}

const server = serveInference(serverEngine(engine, home), connectToParent(leave), { log });
