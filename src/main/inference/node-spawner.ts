/**
 * Starts the inference process with Node's child_process.fork (serve mode and
 * tests); Electron's utilityProcess has its own spawner (electron-spawner.ts).
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildExit, Spawner } from './child';

/** Options of the Node spawner. */
export interface NodeSpawnerOptions {
  /** Data directory handed to the process (--home). */
  home: string;
  /** The built inference process; defaults to inference-process.js beside the running bundle (out/main). */
  entry?: string;
  /** Node flags for the child (default: only --expose-gc, so a test runner's loaders are not inherited). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between SIGTERM and SIGKILL on kill(). */
  killGraceMs?: number;
}

/**
 * The built inference process: out/main/inference-process.js. This module may
 * be bundled into out/main/ itself or into a shared chunk under out/main/chunks/,
 * so both places are looked at.
 */
export function defaultInferenceEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'inference-process.js'), join(here, '..', 'inference-process.js')];
  return candidates.find((file) => existsSync(file)) ?? join(here, 'inference-process.js');
}

/** Spawns the inference process with child_process.fork (serve mode, tests). */
export function createNodeSpawner(options: NodeSpawnerOptions): Spawner {
  const entry = options.entry ?? defaultInferenceEntry();
  return () => {
    if (!existsSync(entry)) throw new Error(`${entry} does not exist (run \`npm run build\`)`);
    const child = fork(entry, ['--home', options.home], {
      // --expose-gc: the process collects its heaps when idle (Engine.releaseIdleMemory, issue 6 §3.1).
      execArgv: options.execArgv ?? ['--expose-gc'],
      env: { ...(options.env ?? process.env), INKWELL_HOME: options.home },
      // Typed arrays (logits) and non-finite numbers survive, as with Electron's structured clone.
      serialization: 'advanced',
      // The child's stdout goes to our stderr: serve mode's stdout starts with the URL line.
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    const exitListeners: ((exit: ChildExit) => void)[] = [];
    let ended = false;
    const end = (exit: ChildExit): void => {
      if (ended) return;
      ended = true;
      for (const listener of exitListeners) listener(exit);
    };
    child.on('exit', (code, signal) => end({ code, signal }));
    // 'error' without a pid means the process never started, and then no 'exit' follows.
    child.on('error', () => {
      if (child.pid === undefined) end({ code: null, signal: null });
    });
    return {
      postMessage: (message) => {
        if (!child.connected) throw new Error('the IPC channel is closed');
        child.send(message as object);
      },
      onMessage: (listener) => child.on('message', listener),
      onExit: (listener) => {
        exitListeners.push(listener);
      },
      kill: (now = false) => {
        if (ended) return;
        // SIGKILL also ends a stopped process, which SIGTERM would only reach once it is continued.
        child.kill(now ? 'SIGKILL' : 'SIGTERM');
        setTimeout(() => {
          if (!ended) child.kill('SIGKILL');
        }, options.killGraceMs ?? 3_000).unref();
      },
    };
  };
}
