import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Native and heavy packages stay outside the bundle: they are loaded from node_modules at run time.
const external = ['better-sqlite3', 'onnxruntime-node', '@huggingface/transformers', 'ws', 'electron'];

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        external,
        input: {
          // Electron entry (imports electron).
          index: resolve(__dirname, 'src/main/index.ts'),
          // `inkwell` CLI and `inkwell serve` (plain Node, never imports electron).
          cli: resolve(__dirname, 'src/main/cli.ts'),
          // The inference process (utilityProcess in the app, child process in serve mode).
          'inference-process': resolve(__dirname, 'src/main/inference/process-entry.ts'),
          // The decoder's worker thread, found next to the bundle at run time (runtime/threaded-decoder.ts).
          'decoder-worker': resolve(__dirname, 'src/main/engine/runtime/worker-entry.ts'),
          // The inspect pass's worker thread (runtime/threaded-inspect-session.ts), found the same way.
          'inspect-worker': resolve(__dirname, 'src/main/engine/runtime/inspect-worker-entry.ts'),
        },
      },
    },
  },
  preload: {
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
