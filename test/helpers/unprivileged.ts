/**
 * Runs a TypeScript script as a user who cannot write where the test says: as root (CI
 * containers), file modes do not stop writes, so the script runs as nobody (uid 65534); as
 * anyone else, the modes the test sets are enough. The script prints one JSON line.
 */
import { spawnSync } from 'node:child_process';

const NOBODY = 65534;

/** True when this process is root, so that file modes alone would not stop it. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Runs `script` (TypeScript, through jiti) with `args`; returns its exit status and the JSON it printed last. */
export function runUnprivileged<T>(script: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; result: T; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'jiti/register', script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, HOME: '/tmp', ...env },
    timeout: 60_000,
    ...(isRoot() ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  const lines = run.stdout.trim().split('\n');
  let result: T;
  try {
    result = JSON.parse(lines.at(-1) ?? 'null') as T;
  } catch {
    throw new Error(`${script} printed no JSON (status ${run.status}): ${run.stdout}\n${run.stderr}`);
  }
  return { status: run.status, result, stderr: run.stderr };
}
