/**
 * A full disk and an unwritable store while importing (issue 6, fault 3.4): a real tiny tmpfs
 * where this process may mount one (root on Linux), and injected ENOSPC / EACCES failures of the
 * file-system calls everywhere. Either way the error says what happened (exit code 2 in the CLI,
 * never "internal") and nothing is left under models/.
 */
import { execFileSync } from 'node:child_process';
import type * as Fs from 'node:fs';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../../src/main/cli/run';
import { ModelStore } from '../../../../src/main/engine/models/store';
import { EngineError } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { useTempDirs } from '../../../helpers/tmp';

const injected = vi.hoisted(() => ({ copyFile: undefined as string | undefined, mkdirSync: undefined as string | undefined }));

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure`), { code });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  return {
    ...real,
    copyFile: async (...args: Parameters<typeof real.copyFile>) => {
      if (injected.copyFile) throw errnoError(injected.copyFile);
      return real.copyFile(...args);
    },
  };
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof Fs>();
  return {
    ...real,
    mkdirSync: (...args: Parameters<typeof real.mkdirSync>) => {
      if (injected.mkdirSync) throw errnoError(injected.mkdirSync);
      return real.mkdirSync(...args);
    },
    // The synchronous copy too, whichever the store uses.
    copyFileSync: (...args: Parameters<typeof real.copyFileSync>) => {
      if (injected.copyFile) throw errnoError(injected.copyFile);
      return real.copyFileSync(...args);
    },
  };
});

const tempDir = useTempDirs('inkwell-store-disk-');
let ckptDir: string;

beforeAll(async () => {
  ckptDir = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(ckptDir, { nLayer: 1, nEmbd: 16, nHead: 2 });
});

async function importError(store: ModelStore, id: string): Promise<EngineError> {
  const error = await store.import(ckptDir, id).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

const leftovers = (home: string) => (existsSync(join(home, 'models')) ? readdirSync(join(home, 'models')) : []);

describe('import on a full or unwritable disk (injected failures)', () => {
  it('ENOSPC while copying the weights: "disk is full", nothing left behind, CLI exit 2', async () => {
    const home = tempDir();
    injected.copyFile = 'ENOSPC';
    try {
      const error = await importError(new ModelStore(home), 'full');
      expect(error.kind).toBe('refused');
      expect(error.message).toContain(`the disk holding ${join(home, 'models')} is full`);
      expect(leftovers(home)).toEqual([]);
      let stderr = '';
      const code = await runCli(['models', 'import', ckptDir, '--id', 'full'], {
        stdout: () => undefined, stderr: (t) => void (stderr += t), interrupt: new AbortController().signal, env: { INKWELL_HOME: home },
      });
      expect(code).toBe(2);
      expect(stderr).toMatch(/^inkwell: error: the disk holding .* is full/);
      expect(stderr).not.toContain('internal');
    } finally {
      injected.copyFile = undefined;
    }
  });

  it('EACCES creating the store folder: "permission denied", CLI exit 2', async () => {
    const home = tempDir();
    injected.mkdirSync = 'EACCES';
    try {
      const error = await importError(new ModelStore(home), 'denied');
      expect(error.kind).toBe('bad_input');
      expect(error.message).toContain(`cannot write to ${join(home, 'models')} (permission denied)`);
    } finally {
      injected.mkdirSync = undefined;
    }
    expect(leftovers(home)).toEqual([]);
  });
});

/** Mounts a tmpfs of `kib` KiB on a fresh folder; undefined where this process may not mount (not root). */
function mountTmpfs(kib: number): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return undefined;
  }
}

describe('import on a real full disk (a tiny tmpfs)', () => {
  const mounted: string[] = [];
  afterAll(() => {
    for (const dir of mounted) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  });

  it('ENOSPC from a tmpfs that fills up after the free-space check: clear error, the tmpfs left empty', async (ctx) => {
    // The checkpoint's weights are ~3.3 MB; 1 MiB cannot hold them.
    const home = mountTmpfs(1024);
    if (!home) {
      ctx.skip('cannot mount a tmpfs here (needs root on Linux); the injected ENOSPC test covers the same path');
      return;
    }
    mounted.push(home);
    mkdirSync(join(home, 'models'));
    // As if another program filled the disk between the check and the copy.
    const store = new ModelStore(home, { freeDiskBytes: async () => Number.MAX_SAFE_INTEGER });
    const error = await importError(store, 'tmpfs');
    expect(error.kind).toBe('refused');
    expect(error.message).toContain('is full');
    expect(leftovers(home)).toEqual([]);

    const checked = await importError(new ModelStore(home), 'checked');
    expect(checked.message).toMatch(/not enough disk space for importing "checked": it needs .* and [\d.]+ (KiB|MiB) is free/);
    expect(leftovers(home)).toEqual([]);
  });
});
