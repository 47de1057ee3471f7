/**
 * The built bundles keep each process to what it may load: the desktop main process and the
 * CLI's start-up never load onnxruntime-node or transformers.js (they belong in the inference
 * process, whose crash must not take the window down), the inference process never loads
 * Electron (it also runs as a plain Node child in serve mode), and the sandboxed preload is one
 * file that requires Electron only and carries every API method.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resolveConfig } from 'electron-vite';
import { build, type InlineConfig } from 'vite';
import { beforeAll, describe, expect, it } from 'vitest';
import { methodNames } from '../../src/shared/api';
import { useTempDirs } from '../helpers/tmp';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const tempDir = useTempDirs('inkwell-bundles-');
let out: string;

beforeAll(async () => {
  out = tempDir();
  const { config } = await resolveConfig({ root: repoRoot, logLevel: 'error' }, 'build', 'production');
  for (const target of ['main', 'preload'] as const) {
    const viteConfig = config?.[target] as InlineConfig | undefined;
    if (!viteConfig?.build) throw new Error(`electron.vite.config.ts has no ${target} build`);
    await build({ ...viteConfig, logLevel: 'error', build: { ...viteConfig.build, outDir: join(out, target), emptyOutDir: true } });
  }
}, 120_000);

/** Every bare module a bundle file loads statically, following its own relative chunks. */
function staticImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const modules = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const match of code.matchAll(/^(?:import|export)\s[^'"]*?from\s+"([^"]+)"|^import\s+"([^"]+)"|\brequire\("([^"]+)"\)/gm)) {
      const spec = match[1] ?? match[2] ?? match[3] ?? '';
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) visit(target);
      } else {
        modules.add(spec);
      }
    }
  };
  visit(entry);
  return modules;
}

describe('the built bundles', () => {
  it('load no onnxruntime-node or transformers.js in the desktop main process or at CLI start-up', () => {
    for (const entry of ['index.js', 'cli.js']) {
      const loaded = [...staticImports(join(out, 'main', entry))];
      expect(loaded.filter((m) => m === 'onnxruntime-node' || m.startsWith('@huggingface/')), entry).toEqual([]);
    }
    expect(staticImports(join(out, 'main', 'index.js'))).toContain('electron');
  });

  it('load no Electron in the inference process or its worker threads', () => {
    for (const entry of ['inference-process.js', 'decoder-worker.js']) {
      expect([...staticImports(join(out, 'main', entry))].filter((m) => m === 'electron' || m.startsWith('electron/')), entry).toEqual([]);
    }
  });

  it('make the preload one file that requires only electron and exposes every method of the table', () => {
    const preload = join(out, 'preload', 'index.cjs');
    expect([...staticImports(preload)]).toEqual(['electron']);
    const code = readFileSync(preload, 'utf8');
    for (const method of methodNames) expect(code).toContain(JSON.stringify(method));
    expect(code).not.toContain('__INKWELL_API_METHODS__');
  });
});
