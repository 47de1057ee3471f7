/**
 * Builds the real inference process (src/main/inference-process/process-entry.ts)
 * for tests, independent of the full `electron-vite build`: one Vite SSR
 * build into .inkwell-test/ inside the repository, so that the bundle's bare
 * imports (onnxruntime-node, zod, …) resolve from the project's node_modules.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Builds the inference process; returns its entry file and a cleanup. */
export async function buildInferenceProcess(): Promise<{ entry: string; remove(): void }> {
  const outDir = join(repoRoot, '.inkwell-test', `inference-process-${process.pid}-${Date.now()}`);
  await build({
    configFile: false,
    root: repoRoot,
    logLevel: 'error',
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'node20',
      rollupOptions: {
        // The decoder's worker thread is looked up next to the bundle, as in electron.vite.config.ts.
        input: {
          'inference-process': join(repoRoot, 'src/main/inference-process/process-entry.ts'),
          'decoder-worker': join(repoRoot, 'src/main/engine/runtime/worker-entry.ts'),
          'model-import-worker': join(repoRoot, 'src/main/inference-process/import-worker.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  });
  return { entry: join(outDir, 'inference-process.js'), remove: () => rmSync(outDir, { recursive: true, force: true }) };
}
