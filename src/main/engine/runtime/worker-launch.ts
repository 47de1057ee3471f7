/**
 * How to start one of the engine's worker threads: the bundled file next to the main bundle, or the
 * TypeScript entry through jiti when running from sources (vitest, the benches).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A worker's entry and Node flags, or why it cannot start. */
export type WorkerLaunch = { entry: URL; execArgv?: string[] } | string;

/**
 * The launch of worker `bundleName` (e.g. "inspect-worker.js") for the module at `callerUrl`
 * (its import.meta.url); `sourceEntry` is the TypeScript entry, `envOverride` an environment
 * variable that may name the bundled file explicitly.
 */
export function workerLaunch(callerUrl: string, bundleName: string, sourceEntry: URL, envOverride: string): WorkerLaunch {
  const explicit = process.env[envOverride];
  if (explicit) return existsSync(explicit) ? { entry: pathToFileURL(explicit) } : `${envOverride}=${explicit} does not exist`;
  const here = fileURLToPath(callerUrl);
  if (here.endsWith('.ts')) {
    try {
      // 'jiti/register' is import-only in jiti's exports map; require finds the folder it lives in.
      const register = join(dirname(createRequire(callerUrl).resolve('jiti')), 'jiti-register.mjs');
      if (!existsSync(register)) return `running from TypeScript sources and ${register} is missing`;
      return { entry: sourceEntry, execArgv: ['--import', pathToFileURL(register).href] };
    } catch (error) {
      return `running from TypeScript sources and jiti is not installed: ${(error as Error).message}`;
    }
  }
  // The bundle puts the caller in out/main/ or out/main/chunks/, next to or under the worker file.
  for (const dir of [dirname(here), join(dirname(here), '..')]) {
    const candidate = join(dir, bundleName);
    if (existsSync(candidate)) return { entry: pathToFileURL(candidate) };
  }
  return `${bundleName} is not next to ${here}`;
}
