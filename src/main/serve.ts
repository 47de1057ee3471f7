/**
 * `inkwell serve`: the desktop app's back end without Electron. History in
 * <home>/inkwell.db, models in <home>/models, inference in a child process,
 * and the built renderer plus the API over HTTP + WebSocket (transports/http-ws.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { version } from '../../package.json';
import { createApiService } from './api/service';
import { ModelStore } from './engine';
import { AppDatabase, DatabaseOpenError } from './history';
import { historyFile } from './history/location';
import { AdmissionQueue, defaultAdmissionLimits } from './inference/admission';
import { InferenceClient } from './inference/client';
import { createNodeSpawner } from './inference/node-spawner';
import { bindWarning, startHttpWsServer } from './transports/http-ws';
import { createServedOpenAiRoutes } from './transports/openai/inference-port';

/** Options of `startServe`. */
export interface ServeOptions {
  /** 0 picks a free port. */
  port: number;
  /** Interface to bind; 127.0.0.1 keeps it to this machine. */
  host: string;
  /** Data directory (history database and models). */
  home: string;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** Receives the printed lines: the first one is always `http://HOST:PORT/?token=TOKEN`. Defaults to stdout. */
  log?: (line: string) => void;
  /** The built inference process; defaults to inference-process.js beside the running bundle. */
  inferenceEntry?: string;
  /** Fixed access token (tests); random 32 bytes otherwise. */
  token?: string;
}

/** A running serve-mode back end. */
export interface ServeHandle {
  /** `http://HOST:PORT/?token=TOKEN`, as printed. */
  url: string;
  /** `http://HOST:PORT`. */
  origin: string;
  port: number;
  token: string;
  /** Cancels running generations (saving what they wrote), stops the server and the inference process, closes the database. */
  close(): Promise<void>;
}

/**
 * Creates `home` if needed and checks that files can be made in it: serve mode writes history and
 * models there, and refusing at start (exit 2, with the reason) beats failing on the first save.
 */
function assertWritableFolder(home: string): void {
  try {
    mkdirSync(home, { recursive: true });
    rmSync(mkdtempSync(join(home, '.write-check-')), { recursive: true, force: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DatabaseOpenError('read_only', `Inkwell cannot write to its data folder ${home} (${reason}); check its permissions or set INKWELL_HOME to a folder you can write to`, { cause: error });
  }
}

/**
 * Starts serve mode and logs its URL as the first line; later lines are
 * notices (e.g. a database that had to be set aside) and diagnostics.
 * Signal handling (SIGINT/SIGTERM → close) is the caller's.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const home = resolve(options.home);
  const rendererDir = resolve(options.rendererDir);
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new Error(`${rendererDir} has no index.html: build the app first (\`npm run build\`)`);
  }
  assertWritableFolder(home);

  // Lines produced before the URL is known wait, so that the URL is always the first line printed.
  const early: string[] = [];
  let emit = (line: string): void => void early.push(line);
  const diagnostics = (line: string): void => emit(line);

  const { database: history, notice } = AppDatabase.open(historyFile(home));
  if (notice) diagnostics(notice);
  const inference = new InferenceClient({
    spawn: createNodeSpawner({ home, ...(options.inferenceEntry ? { entry: options.inferenceEntry } : {}) }),
    log: diagnostics,
  });
  const models = new ModelStore(home);
  // One bound for the UI's generations and the /v1 clients' together.
  const limits = defaultAdmissionLimits();
  const admission = new AdmissionQueue(limits);
  const service = createApiService({
    history,
    inference,
    models,
    modelStore: models,
    admission,
    appInfo: { version, dataDir: home, transport: 'http', nativeFileDialogs: false, notices: notice ? [notice] : [] },
    log: diagnostics,
  });

  const token = options.token ?? randomBytes(32).toString('hex');
  const openAi = createServedOpenAiRoutes({ inference, models, admission, limits, authorize: (candidate) => sameSecret(candidate, token), log: diagnostics });
  let server;
  try {
    server = await startHttpWsServer({
      api: service,
      rendererDir,
      host: options.host,
      port: options.port,
      token,
      mounted: openAi,
      log: diagnostics,
    });
  } catch (error) {
    await service.close();
    await inference.close();
    history.close();
    throw error;
  }

  log(server.url);
  const warning = bindWarning(options.host);
  if (warning) log(warning);
  emit = log;
  for (const line of early.splice(0)) log(line);
  // After the start-up notices, which the app also shows in order (the URL stays the first line).
  log(`OpenAI-compatible API: ${server.origin}/v1 (send the token above as Authorization: Bearer)`);

  let closing: Promise<void> | null = null;
  const running = server;
  return {
    url: running.url,
    origin: running.origin,
    port: running.port,
    token: running.token,
    close() {
      closing ??= (async () => {
        await service.close();
        await running.close();
        await inference.close();
        history.close();
      })();
      return closing;
    },
  };
}

/** Constant-time comparison of a presented token with the server's (digests, so lengths do not leak). */
function sameSecret(candidate: string | undefined, secret: string): boolean {
  if (candidate === undefined || candidate.length === 0 || candidate.length > 256) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(candidate), digest(secret));
}
