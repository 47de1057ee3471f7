/**
 * Fault 3.3: a data folder Inkwell may not write made `inkwell serve` and the CLI exit 1 with a
 * stack trace. They exit 2 with the reason in one line.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { useTempDirs } from '../../helpers/tmp';
import { runUnprivileged } from '../../helpers/unprivileged';
import { makeRenderer } from '../serve/fixtures';

const tempDir = useTempDirs('inkwell-data-folder-');
const probe = join(import.meta.dirname, '../../helpers/storage-probe.ts');

/** A data folder nobody may write (its parent readable, so the path can be reached). */
function unwritableHome(): string {
  const root = tempDir();
  chmodSync(root, 0o755);
  const home = join(root, 'home');
  mkdirSync(home);
  chmodSync(home, 0o555);
  return home;
}

describe('an unwritable data folder', () => {
  it('inkwell serve exits 2 and says which folder it may not write', () => {
    const home = unwritableHome();
    const rendererRoot = tempDir();
    chmodSync(rendererRoot, 0o755);
    const renderer = makeRenderer(rendererRoot);
    const { result } = runUnprivileged<{ exit: number; stderr: string }>(probe, ['serve', home, renderer]);
    expect(result.exit).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^inkwell: error: Inkwell cannot write to its data folder ${home} \\(.*(EACCES|permission denied).*\\)`));
    expect(result.stderr).not.toContain('    at ');
  });

  it('inkwell models import exits 2 with the reason instead of a stack trace', async () => {
    const home = unwritableHome();
    const checkpoint = join(tempDir(), 'ckpt');
    await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 1 });
    chmodSync(join(checkpoint, '..'), 0o755);
    const { result } = runUnprivileged<{ exit: number; stderr: string }>(probe, ['import', home, checkpoint]);
    expect(result.exit).toBe(2);
    expect(result.stderr).toMatch(/^inkwell: error: .*(EACCES|permission denied)/);
    expect(result.stderr).toContain(home);
    expect(result.stderr).not.toContain('    at ');
  });
});
