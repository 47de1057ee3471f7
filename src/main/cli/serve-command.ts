/** `inkwell serve`: the app's back end over HTTP + WebSocket until interrupted. */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs, parseInteger } from './args';
import { EXIT, RefusedError, SHOW_HELP, UsageError, type CliIo } from './io';

/**
 * The built renderer, out/renderer: found by walking up from this file, which is out/main/cli.js
 * (or one of its chunks under out/main/) when bundled and src/main/cli/ in tests.
 */
function rendererDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    if (basename(dir) === 'out' && existsSync(join(dir, 'renderer', 'index.html'))) return join(dir, 'renderer');
    if (existsSync(join(dir, 'out', 'renderer', 'index.html'))) return join(dir, 'out', 'renderer');
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', 'renderer');
}

/** Runs `inkwell serve …`; returns when the interrupt signal fires and the server has closed. */
export async function serveCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const args = parseCommandArgs('serve', argv, { port: { type: 'string' }, host: { type: 'string' } });
  if (args.values.help) return SHOW_HELP;
  const port = typeof args.values.port === 'string' ? parseInteger('port', args.values.port, 'serve') : 0;
  if (port < 0 || port > 65535) throw new UsageError('serve', `--port: must be between 0 and 65535, got ${port}`);
  const host = typeof args.values.host === 'string' ? args.values.host : '127.0.0.1';
  if (host.trim() === '') throw new UsageError('serve', '--host: must not be empty');

  const renderer = rendererDir();
  if (!existsSync(join(renderer, 'index.html'))) {
    throw new RefusedError(`the app is not built (${join(renderer, 'index.html')} is missing): run \`npm run build\` first`);
  }

  // Loaded on demand: serve pulls in the history database and the HTTP stack, which no other command needs.
  const { startServe } = await import('../serve');
  let handle: Awaited<ReturnType<typeof startServe>>;
  try {
    handle = await startServe({ port, host, home, rendererDir: renderer, log: (line) => io.stdout(`${line}\n`) });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError('serve', `port ${port} on ${host} is already in use (try --port 0)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError('serve', `cannot listen on ${host}: ${(error as Error).message}`);
    throw error;
  }
  await new Promise<void>((done) => {
    if (io.interrupt.aborted) done();
    else io.interrupt.addEventListener('abort', () => done(), { once: true });
  });
  await handle.close();
  return EXIT.ok;
}
