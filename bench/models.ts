/**
 * The benchmarked models (random weights, real GPT-2 shapes and vocabulary) and their
 * cache: written once, imported through ModelStore (so Inkwell's own ONNX graph is
 * built), and reused by later runs while the weights and graph code are unchanged.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ModelStore, type StoredModel } from '../src/main/engine/models/store';
import type { Precision } from '../src/main/engine/precision';
import { CHECKPOINT_WRITER_VERSION, writeRandomCheckpoint, type CheckpointShape } from './checkpoint-writer';

/** Names accepted by --model (smoke is a tiny model that only checks the bench's wiring). */
export type BenchModelName = 'gpt2' | 'gpt2-large' | 'smoke';

/** One benchmarked model shape. */
export interface BenchModelSpec {
  readonly name: BenchModelName;
  /** What it stands for, for the report. */
  readonly label: string;
  readonly shape: CheckpointShape;
}

/** GPT-2 (124M) and GPT-2 Large (774M) as in their Hugging Face config.json files. */
export const BENCH_MODELS: Readonly<Record<BenchModelName, BenchModelSpec>> = {
  gpt2: { name: 'gpt2', label: 'GPT-2 (124M) shape', shape: { nLayer: 12, nEmbd: 768, nHead: 12, nPositions: 1024 } },
  'gpt2-large': { name: 'gpt2-large', label: 'GPT-2 Large (774M) shape', shape: { nLayer: 36, nEmbd: 1280, nHead: 20, nPositions: 1024 } },
  smoke: { name: 'smoke', label: 'tiny smoke-test shape (not a benchmark)', shape: { nLayer: 2, nEmbd: 64, nHead: 4, nPositions: 1024 } },
};

/** The weights' seed; fixed so every run measures the same model. */
const WEIGHT_SEED = 1;

/**
 * Store id of a bench model: changes when the weights (writer version, seed) or the code that
 * builds the stored graph (`graphHash`, computed by bench/run.mjs) change.
 */
export function benchModelId(spec: BenchModelSpec, graphHash: string): string {
  return `${weightsKey(spec)}-g${graphHash}`;
}

function weightsKey(spec: BenchModelSpec): string {
  return `bench-${spec.name}-f32-s${WEIGHT_SEED}-w${CHECKPOINT_WRITER_VERSION}`;
}

/**
 * The stored bench model, created if needed. A stored model with the same weights but an older
 * graph is re-imported from its own folder (no need to write the weights again) and removed.
 */
export async function ensureBenchModel(benchDir: string, spec: BenchModelSpec, graphHash: string, log: (line: string) => void): Promise<StoredModel> {
  const store = new ModelStore(join(benchDir, 'home'));
  const id = benchModelId(spec, graphHash);
  const existing = store.list();
  const current = existing.find((m) => m.id === id);
  if (current) {
    log(`${spec.name}: reusing ${current.dir}`);
    return current;
  }
  const sameWeights = existing.filter((m) => m.id.startsWith(`${weightsKey(spec)}-g`));
  const reusable = sameWeights[0];
  let model: StoredModel;
  const started = performance.now();
  if (reusable) {
    log(`${spec.name}: graph code changed; re-importing ${reusable.id} as ${id}`);
    model = await store.import(reusable.dir, id);
  } else {
    const source = join(benchDir, 'checkpoints', weightsKey(spec));
    if (!existsSync(source)) {
      log(`${spec.name}: writing random weights into ${source}`);
      let reported = 0;
      writeRandomCheckpoint(source, spec.shape, WEIGHT_SEED, (fraction) => {
        if (fraction >= reported + 0.25) {
          reported = Math.floor(fraction * 4) / 4;
          log(`${spec.name}: ${Math.round(fraction * 100)}% of the weights written`);
        }
      });
    }
    log(`${spec.name}: importing through ModelStore (builds Inkwell's ONNX graph)`);
    model = await store.import(source, id);
    // The store holds its own copy; the source is only needed to import again.
    rmSync(source, { recursive: true, force: true });
  }
  for (const old of sameWeights) store.remove(old.id);
  log(`${spec.name}: ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${(model.sizeBytes / 1e9).toFixed(2)} GB)`);
  return model;
}

/**
 * The model with every precision in `precisions` converted (once: variants live in the cached
 * model's folder, so a later run with the same graph code reuses them).
 */
export async function ensureBenchVariants(benchDir: string, model: StoredModel, precisions: readonly Precision[], log: (line: string) => void): Promise<StoredModel> {
  const store = new ModelStore(join(benchDir, 'home'));
  for (const precision of precisions) {
    if (precision === 'fp32' || model.variants.some((v) => v.precision === precision)) continue;
    const started = performance.now();
    let reported = -1;
    log(`${model.id}: converting to ${precision} (once; cached with the model)`);
    const variant = await store.convert(model.id, precision, {
      onProgress: (p) => {
        const quarter = Math.floor(p.fraction * 4);
        if (quarter > reported) {
          reported = quarter;
          log(`${model.id} → ${precision}: ${Math.round(p.fraction * 100)}% (${p.phase})`);
        }
      },
    });
    log(`${model.id} → ${precision}: ${(variant.sizeBytes / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s; `
      + `KL ${variant.quality?.meanKl.toExponential(2)} nats, greedy agreement ${((variant.quality?.greedyAgreement ?? 0) * 100).toFixed(1)}%`);
  }
  return store.get(model.id);
}
