// `npm run bench`: bundles the TypeScript bench (bench/*.ts plus the engine it measures) with
// vite for Node 20 into out/bench, then runs it with this process's flags and arguments.
// Plain ESM on purpose: it is the one file that has to run before anything is compiled.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'out', 'bench');

// Native and heavy packages are loaded from node_modules at run time, as in electron.vite.config.ts.
const external = ['onnxruntime-node', '@huggingface/transformers', 'better-sqlite3', 'ws'];
const isExternal = (id) =>
  id.startsWith('node:') || builtinModules.includes(id) || external.some((name) => id === name || id.startsWith(`${name}/`));

/** sha256 of the given files and folders: a cached model is rebuilt when its weights or graph code change. */
function sourceHash(paths) {
  const hash = createHash('sha256');
  const walk = (path) => {
    if (!statSync(path).isDirectory()) {
      hash.update(path.slice(root.length)).update(readFileSync(path));
      return;
    }
    for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  for (const path of paths) walk(join(root, path));
  return hash.digest('hex').slice(0, 10);
}

rmSync(outDir, { recursive: true, force: true });
await build({
  root,
  configFile: false,
  logLevel: 'warn',
  build: {
    ssr: true,
    target: 'node20',
    outDir,
    emptyOutDir: true,
    minify: false,
    sourcemap: true,
    rollupOptions: {
      input: {
        'gpt2.bench': join(root, 'bench/gpt2.bench.ts'),
        worker: join(root, 'bench/worker.ts'),
        profile: join(root, 'bench/profile.ts'),
        'block-sizes': join(root, 'bench/block-sizes.ts'),
        'op-profile': join(root, 'bench/op-profile.ts'),
        'rows-profile': join(root, 'bench/rows-profile.ts'),
        'rows-ab': join(root, 'bench/rows-ab.ts'),
        'batching.bench': join(root, 'bench/batching.bench.ts'),
        // The engine's decoder worker thread, looked up next to the bundle (src/main/engine/runtime/threaded-decoder.ts).
        'decoder-worker': join(root, 'src/main/engine/runtime/worker-entry.ts'),
      },
      external: isExternal,
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
  ssr: { noExternal: true, target: 'node' },
});

const graphHash = sourceHash(['src/main/engine/onnx', 'src/main/engine/checkpoint', 'bench/checkpoint-writer.ts']);
// `--profile` runs the per-step profile (bench/profile.ts), `--profile-ops` the per-operator one
// (bench/op-profile.ts), `--profile-rows` the rows graph's per-operator one for K rows
// (bench/rows-profile.ts), `--rows-ab` two rows graphs interleaved (bench/rows-ab.ts), `--block-sizes` the quantization format measurement
// (bench/block-sizes.ts), `--batching` the batching bench (bench/batching.bench.ts), instead of
// the comparison. `--rows-ab` takes a value, so it stays in the arguments.
const args = process.argv.slice(2);
const modes = { '--profile': 'profile.js', '--block-sizes': 'block-sizes.js', '--profile-ops': 'op-profile.js', '--profile-rows': 'rows-profile.js', '--rows-ab': 'rows-ab.js', '--batching': 'batching.bench.js' };
const mode = Object.keys(modes).find((flag) => args.includes(flag));
const entry = mode ? modes[mode] : 'gpt2.bench.js';
const child = spawn(process.execPath, [...process.execArgv, '--enable-source-maps', join(outDir, entry), ...args.filter((a) => a !== mode || mode === '--rows-ab')], {
  stdio: 'inherit',
  env: { ...process.env, INKWELL_BENCH_GRAPH_HASH: graphHash },
});
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
