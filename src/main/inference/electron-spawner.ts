/**
 * Spawns the inference process as an Electron utilityProcess (a Node process
 * Chromium manages, https://www.electronjs.org/docs/latest/api/utility-process)
 * and adapts it to the InferenceClient's ChildLike. The process reads its
 * messages from `process.parentPort` (see inference-process/process-entry.ts).
 */
import { existsSync } from 'node:fs';
import { utilityProcess } from 'electron';
import type { ChildExit, ChildLike, Spawner } from './child';

/** Options of the Electron spawner. */
export interface ElectronSpawnerOptions {
  /** The built inference process (out/main/inference-process.js). */
  entry: string;
  /** Data directory, passed as INKWELL_HOME and --home. */
  home: string;
  /** Base environment; defaults to the main process's. */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds between kill()'s SIGTERM and a SIGKILL, for a process stuck in native code. */
  killGraceMs?: number;
}

/** A Spawner that forks `entry` with utilityProcess.fork. */
export function createElectronSpawner(options: ElectronSpawnerOptions): Spawner {
  return (): ChildLike => {
    if (!existsSync(options.entry)) throw new Error(`${options.entry} does not exist (run \`npm run build\`)`);
    const child = utilityProcess.fork(options.entry, ['--home', options.home], {
      serviceName: 'Inkwell inference',
      // The process collects its heaps when idle (Engine.releaseIdleMemory, issue 6 §3.1).
      execArgv: ['--expose-gc'],
      env: { ...(options.env ?? process.env), INKWELL_HOME: options.home },
      stdio: 'inherit',
    });
    const exitListeners: ((exit: ChildExit) => void)[] = [];
    let exited = false;
    child.once('exit', (code: number) => {
      exited = true;
      // utilityProcess reports an exit code only; a signal death shows up as a non-zero code.
      for (const listener of exitListeners) listener({ code, signal: null });
    });
    return {
      postMessage(message: unknown): void {
        if (exited) throw new Error('the inference process has exited');
        child.postMessage(message);
      },
      onMessage(listener: (message: unknown) => void): void {
        child.on('message', listener);
      },
      onExit(listener: (exit: ChildExit) => void): void {
        exitListeners.push(listener);
      },
      kill(now = false): void {
        if (exited) return;
        const pid = child.pid;
        if (now && pid !== undefined) {
          try {
            process.kill(pid, 'SIGKILL');
            return;
          } catch {
            // Already gone; the exit event follows.
          }
        }
        child.kill();
        setTimeout(() => {
          if (exited || pid === undefined) return;
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone between the check and the kill.
          }
        }, options.killGraceMs ?? 3_000).unref();
      },
    };
  };
}
