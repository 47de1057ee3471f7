#!/usr/bin/env node
/**
 * Launcher of the `inkwell` CLI. Builds the app (electron-vite) when
 * out/main/cli.js is missing or older than any source file, then runs it.
 * Build output goes to stderr so that stdout stays clean for --json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'out', 'main', 'cli.js');
const lock = join(root, 'out', '.inkwell-build-lock');
const inputs = ['src', 'package.json', 'electron.vite.config.ts'].map((p) => join(root, p));

/** Newest modification time under `path` (a file or a folder, walked recursively). */
function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when out/main/cli.js is missing, or older than the sources (when the sources are here at all). */
function isStale() {
  if (!existsSync(cli)) return true;
  if (!existsSync(join(root, 'src'))) return false;
  const built = statSync(cli).mtimeMs;
  return inputs.some((input) => newestMtime(input) > built);
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function fail(message) {
  process.stderr.write(`inkwell: error: ${message}\n`);
  process.exit(1);
}

/** Runs electron-vite build; returns what went wrong, or null. */
function build() {
  const electronVite = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  if (!existsSync(electronVite)) return `${cli} is missing or out of date and electron-vite is not installed: run \`npm install\`, then \`npm run build\``;
  process.stderr.write('inkwell: building the app first (electron-vite build)…\n');
  const result = spawnSync(process.execPath, [electronVite, 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.error) return `could not run electron-vite: ${result.error.message}`;
  if (result.status !== 0) return `the build failed (electron-vite exited with ${result.status ?? result.signal}); see the output above`;
  return null;
}

/** Builds under a lock folder, so that two launches at once do not run two builds into the same out/. */
function buildIfStale() {
  if (!isStale()) return;
  mkdirSync(join(root, 'out'), { recursive: true });
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A lock older than 10 minutes belongs to a build that died.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10 * 60 * 1000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) fail(`another build holds ${lock}; remove it if no build is running`);
      else sleep(250);
    }
  }
  let problem = null;
  try {
    if (isStale()) problem = build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (problem) fail(problem);
}

buildIfStale();
await import(pathToFileURL(cli).href);
