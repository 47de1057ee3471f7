/**
 * `npm run bench`: Inkwell vs @huggingface/transformers on the same stored
 * onnx/model.onnx (random weights, GPT-2 and GPT-2 Large shapes, fp32, CPU EP):
 * load time, time to first token, decode speed for K=1 and K=3, peak memory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, type MachineInfo } from './machine';
import { measureModel, type ModelMeasurement } from './measure';
import { BENCH_MODELS, ensureBenchModel } from './models';
import { parseOptions, USAGE } from './options';
import { wallCrossCheck, interferenceSummary, markdownTable, resultJson, rowsFor, worstSpread } from './report';

/** Share of disturbed timed runs above which a model's figures are flagged as noisy. */
const DISTURBED_SHARE = 0.1;

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function printMachine(machine: MachineInfo): void {
  console.log('## Machine');
  console.log(`CPU: ${machine.cpuModel} (${machine.cpus} logical CPUs; ${machine.simd.join(', ') || 'no SIMD flags read'})`);
  console.log(`RAM: ${machine.memoryGiB.toFixed(1)} GiB; OS: ${machine.os}`);
  console.log(`Node ${machine.node}; onnxruntime-node ${machine.onnxruntimeNode} (CPU EP); @huggingface/transformers ${machine.transformersJs}`);
  console.log(`Load average at start: ${machine.loadAverageAtStart.toFixed(2)}`);
  console.log('');
}

function printModel(m: ModelMeasurement, maxInterference: number): void {
  const { nLayer, nEmbd, nHead, nPositions } = m.spec.shape;
  console.log(`## ${m.spec.label}: ${nLayer} layers, d=${nEmbd}, ${nHead} heads, ${nPositions} positions, vocab 50257, fp32, CPU EP`);
  if (m.nodeFlags.length > 0) console.log(`Both measuring processes ran with: ${m.nodeFlags.join(' ')}`);
  console.log(`${(m.model.parameters / 1e6).toFixed(1)}M parameters, ${((m.model.parameters * 4) / 1e9).toFixed(2)} GB of fp32 weights; ${m.reps} timed repetitions after ${m.warmup} warm-up, medians; decode over ${m.decodeSteps} steps`);
  console.log('');
  console.log(markdownTable(rowsFor(m)));
  console.log('');
  console.log(wallCrossCheck(m));
  for (const check of m.checks) console.log(`check: ${check}`);
  console.log(interferenceSummary(m, maxInterference));
  const spread = worstSpread(m);
  console.log(`noise: widest spread (max−min)/median = ${(spread.spread * 100).toFixed(0)}% (${spread.where}); 1-minute load average (this bench included) ${m.loadAverage.before.toFixed(2)} → ${m.loadAverage.after.toFixed(2)}`);
  const runs = Object.values(m.results).flatMap((r) => Object.values(r.runs).flat());
  const disturbed = runs.filter((r) => r.othersCpus > maxInterference).length;
  if (disturbed > DISTURBED_SHARE * runs.length) {
    console.log(`warning: ${disturbed} of ${runs.length} timed runs shared the CPUs with other programs; treat the figures as noisy`);
  }
  console.log('');
}

async function main(): Promise<void> {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const argv = process.argv.slice(2);
  let options;
  try {
    options = parseOptions(argv, root);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const graphHash = process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev';
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  printMachine(machine);
  log(`model cache: ${options.benchDir}`);

  const measurements: ModelMeasurement[] = [];
  for (const name of options.models) {
    const spec = BENCH_MODELS[name];
    const model = await ensureBenchModel(options.benchDir, spec, graphHash, log);
    if (options.prepareOnly) continue;
    const measurement = await measureModel(spec, model, join(options.benchDir, 'home'), {
      reps: options.reps[name],
      warmup: options.warmup,
      decodeSteps: options.decodeSteps[name],
      maxInterference: options.maxInterference,
      nodeFlags: options.nodeFlags,
    }, log);
    measurements.push(measurement);
    printModel(measurement, options.maxInterference);
    // Written after every model, so a long run that is stopped keeps what it measured.
    mkdirSync(dirname(options.jsonPath), { recursive: true });
    writeFileSync(options.jsonPath, `${JSON.stringify(resultJson(machine, startedAt, measurements), null, 2)}\n`);
  }
  if (measurements.length > 0) console.log(`Results: ${options.jsonPath}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
