/**
 * The demo build (vite.demo.config.ts): the renderer with its in-memory demo
 * back end, built into a folder of the caller's choice and served by Vite's
 * preview server. Screenshots use it (its made-up prose reads better than a
 * random model's tokens); the production bundle must not contain it.
 */
import { join } from 'node:path';
import { build, preview, type PreviewServer } from 'vite';
import { repoRoot } from './serve-process';

const configFile = join(repoRoot, 'vite.demo.config.ts');

/** Builds the demo renderer into `outDir`. */
export async function buildDemo(outDir: string): Promise<void> {
  await build({ configFile, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
}

/** A running preview of a demo build. */
export interface DemoServer {
  /** The page with the demo back end switched on (`?mock=1`). */
  url: string;
  close(): Promise<void>;
}

/** Serves the demo build in `outDir` on a free port. */
export async function serveDemo(outDir: string): Promise<DemoServer> {
  const server: PreviewServer = await preview({ configFile, logLevel: 'warn', build: { outDir }, preview: { port: 0, host: '127.0.0.1', open: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('the demo preview server has no port');
  return { url: `http://127.0.0.1:${address.port}/?mock=1`, close: () => server.close() };
}
