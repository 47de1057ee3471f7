/**
 * The demo back end (src/renderer/src/demo/mock-api.ts) is for development
 * and screenshots only: the production renderer bundle must not carry it
 * (issue 6, §2). The demo build is made too, as the control: the same
 * markers are found there, so their absence in out/renderer means something.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDemo } from './helpers/demo';
import { assertBuilt, repoRoot } from './helpers/serve-process';

/** Strings only the demo back end holds: its sample document's title, a line of its prose, its version label. */
const demoMarkers = ['The Lighthouse Keeper', 'Somewhere past the rocks a bell rang once', '0.1.0 (mock)'];

/** Every file under `dir`, read as text. */
function readAll(dir: string): { file: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = join(entry.parentPath, entry.name);
      return { file, text: readFileSync(file, 'utf8') };
    });
}

describe('the production renderer bundle', () => {
  const demoDir = mkdtempSync(join(tmpdir(), 'inkwell-demo-build-'));
  afterAll(() => rmSync(demoDir, { recursive: true, force: true }));

  it('carries no demo back end, while the demo build does', async () => {
    assertBuilt();
    await buildDemo(demoDir);
    const found = (files: { text: string }[]) => demoMarkers.filter((marker) => files.some((f) => f.text.includes(marker)));
    expect(found(readAll(demoDir))).toEqual(demoMarkers);
    const production = readAll(join(repoRoot, 'out', 'renderer'));
    expect(production.length).toBeGreaterThan(0);
    expect(found(production)).toEqual([]);
  });
});
