/**
 * A description of the machine a bench ran on: CPU, cores, memory, Node and the
 * versions of the runtimes measured, plus the load average as a noise indicator.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

/** What the report prints about the machine. */
export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs this process may use. */
  cpus: number;
  /** SIMD extensions relevant to ORT's CPU kernels (from /proc/cpuinfo flags). */
  simd: string[];
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntimeNode: string;
  transformersJs: string;
  /** 1-minute load average when the bench started. */
  loadAverageAtStart: number;
}

const require = createRequire(import.meta.url);

/** The version field of an installed package (read from its package.json beside the resolved entry). */
function packageVersion(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    while (dir !== dirname(dir)) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      }
      dir = dirname(dir);
    }
  } catch {
    // Reported as unknown below.
  }
  return 'unknown';
}

function cpuInfo(): { model: string; flags: string[] } {
  const fallback = { model: cpus()[0]?.model ?? 'unknown', flags: [] };
  if (!existsSync('/proc/cpuinfo')) return fallback;
  const text = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? fallback.model;
  const flags = /^flags\s*:\s*(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  return { model, flags };
}

/** Collects the machine description. */
export function describeMachine(): MachineInfo {
  const { model, flags } = cpuInfo();
  const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_tile'].filter((f) => flags.includes(f));
  return {
    cpuModel: model,
    cpus: availableParallelism(),
    simd,
    memoryGiB: totalmem() / 1024 ** 3,
    os: `${platform()} ${release()}`,
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    transformersJs: packageVersion('@huggingface/transformers'),
    loadAverageAtStart: loadavg()[0] ?? 0,
  };
}

/** Current 1-minute load average. */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}
