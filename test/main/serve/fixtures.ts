/**
 * Fixtures of the serve-mode tests: a renderer folder and a scripted API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServedApi } from '../../../src/main/transports/http-ws';
import { ApiError, type ServerEvent } from '../../../src/shared/api';

/** A renderer folder with an index, a script, and a secret just outside it. */
export function makeRenderer(root: string): string {
  const renderer = join(root, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>Inkwell</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(renderer, 'assets', 'style.css'), 'body{}');
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  return renderer;
}

/** Answers app.info, throws typed errors for most methods and a plain one for "boom"; records calls. */
export class ScriptedApi implements ServedApi {
  readonly calls: [string, unknown][] = [];
  readonly listeners = new Set<(event: ServerEvent) => void>();
  async handle(method: string, payload: unknown): Promise<unknown> {
    this.calls.push([method, payload]);
    if (method === 'app.info') return { version: '1', dataDir: '/d', transport: 'http', nativeFileDialogs: false };
    if (method === 'boom') throw new TypeError('not an ApiError');
    if (method === 'void') return undefined;
    if (method === 'echo') throw new ApiError('invalid_request', `echo: ${JSON.stringify(payload)}`);
    throw new ApiError(method === 'generate.start' ? 'engine_crashed' : 'not_found', `no ${method}`);
  }
  subscribe(listener: (event: ServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(event: ServerEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
