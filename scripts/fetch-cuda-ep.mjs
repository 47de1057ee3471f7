#!/usr/bin/env node
/**
 * Fetches onnxruntime-node's CUDA execution provider (`npm run fetch-cuda`).
 *
 * The npm package ships the CPU (and, on Linux x64, WebGPU) providers only;
 * the CUDA provider libraries are too large for the npm registry and come
 * from NuGet (Microsoft.ML.OnnxRuntime.Gpu.Linux). This runs the package's
 * own installer (node_modules/onnxruntime-node/script/install.js) with
 * ONNXRUNTIME_NODE_INSTALL=cuda12 and reports what is there afterwards. `npm install` never runs
 * that installer: package.json's allowScripts denies onnxruntime-node's postinstall (npm 11), so this
 * command is the one explicit way to fetch the provider.
 *
 * Using CUDA also needs, on the machine: an NVIDIA driver, the CUDA 12
 * runtime (libcudart, libcublas, libcublasLt, libcufft, libcurand) and cuDNN 9
 * on the library path. Without them Inkwell falls back to WebGPU or CPU and
 * says why.
 *
 * Usage: node scripts/fetch-cuda-ep.mjs [--check]
 *   --check  only report whether the provider is installed (exit 1 when not)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

function say(line) {
  process.stdout.write(`fetch-cuda-ep: ${line}\n`);
}

function fail(lines) {
  for (const line of [].concat(lines)) process.stderr.write(`fetch-cuda-ep: ${line}\n`);
  process.exit(1);
}

function packageDir() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')));
  } catch {
    fail('onnxruntime-node is not installed. Run `npm install` first.');
  }
}

function missingFiles(binDir) {
  return PROVIDER_FILES.filter((file) => !existsSync(join(binDir, file)));
}

/** One line about the NVIDIA driver, from nvidia-smi when it exists. */
function describeGpu() {
  const result = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 15_000 });
  if (result.error || result.status !== 0) return 'nvidia-smi not found or failed: no NVIDIA driver is visible, so CUDA will not be usable here';
  return `GPU: ${result.stdout.trim().split('\n').join('; ')}`;
}

function main() {
  const check = process.argv.includes('--check');
  const unknown = process.argv.slice(2).filter((arg) => arg !== '--check');
  if (unknown.length > 0) fail(`unknown argument "${unknown[0]}"\nusage: node scripts/fetch-cuda-ep.mjs [--check]`);

  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail([
      `onnxruntime-node ships no CUDA provider download for ${process.platform}-${process.arch}; it exists for linux-x64 only.`,
      'Inkwell uses WebGPU or the CPU here.',
    ]);
  }
  const pkg = packageDir();
  const binDir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);

  if (check) {
    const missing = missingFiles(binDir);
    if (missing.length === 0) say(`CUDA provider: installed in ${binDir}`);
    else say(`CUDA provider: not installed (missing ${missing.join(', ')}); run \`npm run fetch-cuda\``);
    say(describeGpu());
    process.exit(missing.length === 0 ? 0 : 1);
  }

  say(`downloading the CUDA 12 provider for onnxruntime-node into ${binDir} (several hundred MB)…`);
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' };
  // A user's own npmrc or environment may still say "skip" (older npm, see README "GPU"); this command means "fetch".
  delete env.npm_config_onnxruntime_node_install;
  delete env.ONNXRUNTIME_NODE_INSTALL_CUDA;
  const result = spawnSync(process.execPath, [join(pkg, 'script', 'install.js')], { cwd: pkg, env, stdio: 'inherit' });
  const missing = missingFiles(binDir);
  if (result.status !== 0 || missing.length > 0) {
    fail([
      `the download did not complete (installer exit ${result.status ?? result.signal}; missing: ${missing.join(', ') || 'none'}).`,
      'It comes from api.nuget.org; check the network or proxy (GLOBAL_AGENT_HTTPS_PROXY is honoured), then run this again.',
    ]);
  }
  say(`CUDA provider installed: ${PROVIDER_FILES.join(', ')}`);
  say(describeGpu());
  say('CUDA also needs the CUDA 12 runtime and cuDNN 9 libraries on the library path (LD_LIBRARY_PATH);');
  say('Inkwell probes the device at start-up and falls back to WebGPU or CPU, with the reason, when they are missing.');
}

main();
