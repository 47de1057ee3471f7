import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as FsPromises from 'node:fs/promises';
import { writeFileAtomic } from '../../../src/main/app/atomic-write';

const failRename = vi.hoisted(() => ({ next: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      if (failRename.next) {
        failRename.next = false;
        throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
      }
      return actual.rename(from, to);
    },
  };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'inkwell-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the target and leaves no temp file', async () => {
    const file = join(dir, 'out.md');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new ✓');
    expect(readFileSync(file, 'utf8')).toBe('new ✓');
    expect(readdirSync(dir)).toEqual(['out.md']);
  });

  it('leaves the old file untouched and removes the temp file when the final step fails', async () => {
    const file = join(dir, 'doc.md');
    writeFileSync(file, 'old');
    failRename.next = true;
    await expect(writeFileAtomic(file, 'new')).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['doc.md']);
  });

  it('fails cleanly when the target is a folder', async () => {
    const target = join(dir, 'is-a-folder');
    mkdirSync(join(target, 'child'), { recursive: true });
    await expect(writeFileAtomic(target, 'text')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['is-a-folder']);
  });
});
