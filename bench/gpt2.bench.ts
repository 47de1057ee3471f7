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
import { engineTimingSummary, markdownTable, resultJson, rowsFor, worstSpread } from './report';

/** Load average per core above which the figures are flagged as noisy. */
const BUSY_LOAD_PER_CPU = 0.5;

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

function printModel(m: ModelMeasurement, machine: MachineInfo): void {
  const { nLayer, nEmbd, nHead, nPositions } = m.spec.shape;
  console.log(`## ${m.spec.label}: ${nLayer} layers, d=${nEmbd}, ${nHead} heads, ${nPositions} positions, vocab 50257, fp32, CPU EP`);
  console.log(`${(m.model.parameters / 1e6).toFixed(1)}M parameters, ${((m.model.parameters * 4) / 1e9).toFixed(2)} GB of fp32 weights; ${m.reps} timed repetitions after ${m.warmup} warm-up, medians; decode over ${m.decodeSteps} steps`);
  console.log('');
  console.log(markdownTable(rowsFor(m)));
  console.log('');
  console.log(engineTimingSummary(m));
  for (const check of m.checks) console.log(`check: ${check}`);
  const spread = worstSpread(m);
  console.log(`noise: widest spread (max−min)/median = ${(spread.spread * 100).toFixed(0)}% (${spread.where}); load average ${m.loadAverage.before.toFixed(2)} → ${m.loadAverage.after.toFixed(2)}`);
  if (Math.max(m.loadAverage.before, m.loadAverage.after) > BUSY_LOAD_PER_CPU * machine.cpus + 1) {
    console.log('warning: the machine was busy with other work during this model; treat the figures as noisy');
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
    }, log);
    measurements.push(measurement);
    printModel(measurement, machine);
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
