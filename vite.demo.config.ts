/**
 * The demo build (`npm run build:demo` → out/demo): the renderer with its
 * in-memory demo back end behind `?mock=1`, for screenshots and trying the UI
 * without models. The production renderer (electron.vite.config.ts) leaves the
 * demo out; test/e2e/bundle.e2e.test.ts checks that it does.
 */
import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  mode: 'demo',
  root: resolve(import.meta.dirname, 'src/renderer'),
  base: './',
  plugins: [svelte()],
  build: { outDir: resolve(import.meta.dirname, 'out/demo'), emptyOutDir: true },
  preview: { host: '127.0.0.1', strictPort: false },
});
