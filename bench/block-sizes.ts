/**
 * `npm run bench -- --block-sizes [--model gpt2|gpt2-large]`: the measurement behind the block
 * size and accuracy_level of the int8/int4 variants (VARIANT_FORMATS in
 * src/main/engine/onnx/variant.ts). For each candidate format it writes the variant into a
 * scratch folder, measures its KL divergence against fp32 on the Brown sample, and times its
 * K=1 greedy decode step beside fp32 in the same process, interleaved round by round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decoderPaths } from '../src/main/engine';
import { readCheckpoint } from '../src/main/engine/checkpoint';
import { describeQualitySample, qualityWindows } from '../src/main/engine/models/quality-sample';
import { measureQuality } from '../src/main/engine/models/variant-measure';
import { buildVariantOnnx, type VariantFormat } from '../src/main/engine/onnx/variant';
import { argmax } from '../src/main/engine/generate/sampling';
import { openDecoder, type DecoderPaths, type DecoderSession } from '../src/main/engine/runtime';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { describeMachine } from './machine';
import { BENCH_MODELS, ensureBenchModel, type BenchModelName } from './models';
import { median } from './report';

const CANDIDATES: VariantFormat[] = [
  ...[32, 64, 128, 256].map((blockSize): VariantFormat => ({ precision: 'int4', quantization: { bits: 4, blockSize, symmetric: true }, accuracyLevel: 4 })),
  { precision: 'int4', quantization: { bits: 4, blockSize: 32, symmetric: false }, accuracyLevel: 4 },
  { precision: 'int4', quantization: { bits: 4, blockSize: 32, symmetric: true }, accuracyLevel: 0 },
  ...[32, 128].map((blockSize): VariantFormat => ({ precision: 'int8', quantization: { bits: 8, blockSize, symmetric: true }, accuracyLevel: 4 })),
];
const STEPS = 16;
const ROUNDS = 4;

function label(f: VariantFormat): string {
  if (f.precision === 'fp16') return 'fp16';
  const q = f.quantization;
  return `${f.precision} block ${q.blockSize} ${q.symmetric ? 'symmetric' : 'zero points'} accuracy_level ${f.accuracyLevel}`;
}

/** Median ms of one greedy decode step after `prompt` over STEPS steps. */
async function decodeMs(decoder: DecoderSession, prompt: readonly number[], vocab: number): Promise<number> {
  let out = await decoder.step({ batch: 1, inputIds: prompt, seqLen: prompt.length, attentionMask: prompt.map(() => 1), positionIds: prompt.map((_, i) => i), past: null });
  const times: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const started = performance.now();
    const next = await decoder.step({
      batch: 1, inputIds: [argmax(out.logits.subarray(0, vocab))], seqLen: 1,
      attentionMask: new Array<number>(prompt.length + s + 1).fill(1), positionIds: [prompt.length + s], past: out.present,
    });
    times.push(performance.now() - started);
    out.present.dispose();
    out = next;
  }
  out.present.dispose();
  return median(times);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const name: BenchModelName = args[args.indexOf('--model') + 1] === 'gpt2-large' ? 'gpt2-large' : 'gpt2';
  const benchDir = process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench');
  const log = (line: string): void => void process.stderr.write(`[block-sizes] ${line}\n`);
  const model = await ensureBenchModel(benchDir, BENCH_MODELS[name], process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  const machine = describeMachine();
  console.log(`block sizes: ${BENCH_MODELS[name].label}, ${machine.cpuModel}, ${machine.cpus} CPUs, load average ${machine.loadAverageAtStart.toFixed(2)}`);
  const ckpt = await readCheckpoint(model.dir);
  const tokenizer = await loadTokenizer(model.dir);
  const { windows, windowTokens } = qualityWindows((t) => tokenizer.encode(t), model.config.nPositions);
  const scratch = mkdtempSync(join(benchDir, 'block-sizes-'));
  try {
    const built: { format: VariantFormat; paths: DecoderPaths; bytes: number; kl: number; agreement: number }[] = [];
    for (const [i, format] of CANDIDATES.entries()) {
      const out = await buildVariantOnnx(ckpt, join(scratch, String(i)), format.precision as 'int4' | 'int8', { format });
      const q = await measureQuality(model.fullLogitsPath, out.fullLogitsPath, model.config, windows, describeQualitySample(windowTokens));
      built.push({ format, paths: out, bytes: out.matrixBytes, kl: q.meanKl, agreement: q.greedyAgreement });
      log(`${label(format)}: KL ${q.meanKl.toExponential(3)}`);
    }
    // One decoder at a time (GPT-2 Large's would not all fit), fp32 beside each, rounds interleaved.
    const times = new Map<string, number[]>();
    const prompt = (windows[0] ?? []).slice(0, 64);
    for (let round = 0; round < ROUNDS; round++) {
      for (const entry of [{ key: 'fp32', paths: await decoderPaths(model) }, ...built.map((b) => ({ key: label(b.format), paths: b.paths }))]) {
        const decoder = await openDecoder(entry.paths, model.config, 'cpu');
        try {
          await decodeMs(decoder, prompt, model.config.vocabSize);
          times.set(entry.key, [...(times.get(entry.key) ?? []), await decodeMs(decoder, prompt, model.config.vocabSize)]);
        } finally {
          await decoder.release();
        }
      }
      log(`round ${round + 1}/${ROUNDS}`);
    }
    console.log(`quality sample: ${describeQualitySample(windowTokens)}; decode: K=1 greedy after ${prompt.length} tokens, median of ${STEPS} steps, best of ${ROUNDS} rounds`);
    console.log('| format | weight MB/token | mean KL (nats) | greedy agreement | decode ms/step (best round) | vs fp32 |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const fp32 = Math.min(...(times.get('fp32') ?? [Number.NaN]));
    console.log(`| fp32 | ${(4 * (model.config.nLayer * 12 * model.config.nEmbd ** 2 + model.config.vocabSize * model.config.nEmbd) / 1e6).toFixed(0)} | 0 | 100% | ${fp32.toFixed(2)} | 1.00 |`);
    for (const b of built) {
      const ms = Math.min(...(times.get(label(b.format)) ?? [Number.NaN]));
      console.log(`| ${label(b.format)} | ${(b.bytes / 1e6).toFixed(0)} | ${b.kl.toExponential(2)} | ${(b.agreement * 100).toFixed(1)}% | ${ms.toFixed(2)} | ${(ms / fp32).toFixed(2)} |`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
