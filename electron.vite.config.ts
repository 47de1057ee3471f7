import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { methodNames } from './src/shared/api';

// Native packages stay outside the bundle: they are loaded from node_modules at run time.
const external = ['better-sqlite3', 'onnxruntime-node', 'onnxruntime-common', 'ws', 'electron'];

export default defineConfig({
  main: {
    resolve: {
      // @huggingface/transformers (bundled: Inkwell uses its tokenizers only) imports sharp at load for
      // images; the stub keeps sharp and its libvips binaries out of the installer.
      alias: { sharp: resolve(__dirname, 'build/sharp-unavailable.mjs') },
    },
    build: {
      outDir: 'out/main',
      // Bundled rather than loaded from node_modules, so that its unused parts stay out of the installer.
      externalizeDeps: { exclude: ['@huggingface/transformers'] },
      rollupOptions: {
        external,
        input: {
          // Electron entry (imports electron).
          index: resolve(__dirname, 'src/main/index.ts'),
          // `inkwell` CLI and `inkwell serve` (plain Node, never imports electron).
          cli: resolve(__dirname, 'src/main/cli.ts'),
          // The inference process (utilityProcess in the app, child process in serve mode).
          'inference-process': resolve(__dirname, 'src/main/inference-process/process-entry.ts'),
          // The decoder's worker thread, found next to the bundle at run time (runtime/threaded-decoder.ts).
          'decoder-worker': resolve(__dirname, 'src/main/engine/runtime/worker-entry.ts'),
          // The model import's worker thread, found next to the inference process (inference-process/import-in-worker.ts).
          'model-import-worker': resolve(__dirname, 'src/main/inference-process/import-worker.ts'),
          // The inspect pass's worker thread (runtime/threaded-inspect-session.ts), found the same way.
          'inspect-worker': resolve(__dirname, 'src/main/engine/runtime/inspect-worker-entry.ts'),
        },
      },
    },
  },
  preload: {
    // The preload's method list, derived from the method table (read in src/preload/bridge.ts).
    define: { __INKWELL_API_METHODS__: JSON.stringify(methodNames) },
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        // A sandboxed preload must be a single CommonJS file.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [svelte()],
    build: {
      outDir: 'out/renderer',
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
  },
});
