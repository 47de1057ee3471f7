/**
 * Disk space and write failures, for everything that writes models: free
 * space is checked before work starts, and a full disk, a permission problem
 * or a read-only file system becomes an error that says so, never "internal".
 */
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatBytes } from '../../../shared/models';
import { EngineError } from '../types';

/** Free bytes on the file system holding `dir`, for an unprivileged writer. */
export type FreeDiskBytes = (dir: string) => Promise<number>;

/** Free bytes an unprivileged process may use on the file system holding `dir` (its nearest existing ancestor). */
export const freeDiskBytes: FreeDiskBytes = async (dir) => {
  let at = resolve(dir);
  for (;;) {
    try {
      const stats = await statfs(at);
      return stats.bavail * stats.bsize;
    } catch (error) {
      const parent = dirname(at);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw error;
      at = parent;
    }
  }
};

/** "1.2 GiB": the one byte formatter of every surface (src/shared/models.ts). */
export { formatBytes } from '../../../shared/models';

/** Throws EngineError('refused') when `needed` bytes do not fit on the disk holding `dir`. */
export async function ensureDiskSpace(dir: string, needed: number, what: string, free: FreeDiskBytes = freeDiskBytes): Promise<void> {
  const available = await free(dir);
  if (available < needed) {
    throw new EngineError('refused', `not enough disk space for ${what}: it needs ${formatBytes(needed)} in ${dir}, and ${formatBytes(available)} is free`);
  }
}

function errnoCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * An EngineError for a write that failed because the disk is full, the folder is not writable
 * or the file system is read-only (found on `error` or its causes); undefined for other errors.
 */
export function diskWriteError(error: unknown, dir: string, what: string): EngineError | undefined {
  switch (errnoCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new EngineError('refused', `the disk holding ${dir} is full: ${what} stopped; free some space and try again`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new EngineError('bad_input', `cannot write to ${dir} (permission denied) while ${what}`, { cause: error });
    case 'EROFS':
      return new EngineError('bad_input', `cannot write to ${dir}: it is on a read-only file system (${what})`, { cause: error });
    default:
      return undefined;
  }
}
