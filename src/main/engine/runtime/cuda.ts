/**
 * Whether onnxruntime-node's CUDA execution provider library is present. The
 * npm package ships without it on Linux unless fetched (`npm run fetch-cuda`);
 * without the file, asking for CUDA can only fail (transformers.js#1642).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The file name of the CUDA provider library on this platform, or null where ORT ships none. */
function cudaProviderFile(): string | null {
  if (process.arch !== 'x64') return null;
  if (process.platform === 'linux') return 'libonnxruntime_providers_cuda.so';
  if (process.platform === 'win32') return 'onnxruntime_providers_cuda.dll';
  return null;
}

/** True when libonnxruntime_providers_cuda is in onnxruntime-node's bin folder. */
export function isCudaProviderInstalled(): boolean {
  const file = cudaProviderFile();
  if (!file) return false;
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return existsSync(join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch, file));
  } catch {
    return false;
  }
}
