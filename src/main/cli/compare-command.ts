/** `inkwell compare`: one prompt on 2–4 models with the same seed and parameters, through the app's orchestrator. */
import { COMPARE_COLUMNS, CompareRequest, DeviceRequest, PrecisionRequest, type Comparison, type NewComparison } from '../../shared/api';
import { columnLabel } from '../../shared/compare';
import { measureGeneration } from '../common/compare-measure';
import { runComparison, type CompareRunner, type RemoteCompareRunner } from '../api/compare-orchestrator';
import { remoteCompareRunner } from '../api/compare-handlers';
import { createRemoteArea } from '../api/remote-handlers';
import { createRemoteKeyStore } from '../api/remote-keys';
import { errorMessage } from '../common/errors';
import { AppDatabase } from '../history';
import { historyFile } from '../history/location';
import { EngineError } from '../engine';
import { isRemoteModelId } from '../../shared/remote-engines';
import { columnDevice, peakMemoryText } from '../../shared/compare';
import type { Engine } from '../engine';
import { GENERATION_OPTIONS, generationParamsFromArgs, parseCommandArgs, requireString } from './args';
import { EXIT, SHOW_HELP, UsageError, type CliIo } from './io';

/** A CompareRunner on an engine in this process (the CLI's; the app's runs through the inference process), with remote columns through `remote`. */
export function engineCompareRunner(engine: Engine, remote?: RemoteCompareRunner): CompareRunner {
  return {
    ...(remote ? { remote } : {}),
    tokenize: async (modelId, text) => (await engine.tokenize(modelId, text)).ids,
    devices: () => engine.probeDevices(),
    generate: (column, prompt, params, handlers, signal) =>
      measureGeneration((onDelta) =>
        engine.generate({
          modelId: column.modelId,
          prompt,
          params,
          precision: column.precision,
          signal,
          onStart: (info) => handlers.onStart(info),
          onDelta: (sequence, text) => {
            if (sequence !== 0) return;
            onDelta();
            handlers.onDelta(text);
          },
        }),
      ),
    score: async (scorer, prompt, continuations) => {
      const { logprobs, texts } = await engine.scoreContinuations(scorer.modelId, prompt, continuations, scorer.device, scorer.precision);
      return { logprobs, texts };
    },
  };
}

/** `--models a,b` with `--precisions`/`--devices` lists (one value for all, or one per model). */
function columnsFromArgs(models: string, precisions: string | undefined, devices: string | undefined): CompareRequest['columns'] {
  const ids = models.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length < COMPARE_COLUMNS.min || ids.length > COMPARE_COLUMNS.max) {
    throw new UsageError('compare', `--models: name ${COMPARE_COLUMNS.min} to ${COMPARE_COLUMNS.max} models, comma-separated (got ${ids.length})`);
  }
  const spread = (flag: string, list: string | undefined): string[] => {
    if (list === undefined) return ids.map(() => 'auto');
    const values = list.split(',').map((s) => s.trim());
    if (values.length === 1) return ids.map(() => values[0] as string);
    if (values.length !== ids.length) throw new UsageError('compare', `--${flag}: give one value, or one per model (${ids.length})`);
    return values;
  };
  const precisionList = spread('precisions', precisions);
  const deviceList = spread('devices', devices);
  return ids.map((modelId, i) => {
    const precision = PrecisionRequest.safeParse(precisionList[i]);
    if (!precision.success) throw new UsageError('compare', `--precisions: ${JSON.stringify(precisionList[i])} is not one of ${PrecisionRequest.options.join(', ')}`);
    const device = DeviceRequest.safeParse(deviceList[i]);
    if (!device.success) throw new UsageError('compare', `--devices: ${JSON.stringify(deviceList[i])} is not one of ${DeviceRequest.options.join(', ')}`);
    return { modelId, precision: precision.data, device: device.data };
  });
}

/** The comparison as `--json` prints it (snake_case, as the README's CLI section documents it). */
export function compareJson(comparison: NewComparison | Comparison): Record<string, unknown> {
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    prompt: comparison.prompt,
    seed: comparison.seed,
    columns: comparison.columns.map((c) => ({
      model: c.spec.modelId,
      precision: c.precision,
      requested_device: c.spec.device,
      device: columnDevice(c),
      ...(c.tokenizedBy !== undefined ? { tokenized_by: c.tokenizedBy } : {}),
      ...(c.deviceFallbackReason !== undefined ? { device_fallback_reason: c.deviceFallbackReason } : {}),
      status: c.status,
      ...(c.error ? { error: c.error.message } : {}),
      text: c.text,
      token_ids: c.tokenIds,
      finish_reason: c.finishReason,
      prompt_tokens: c.promptTokens,
      ttft_ms: c.ttftMs === null ? null : round(c.ttftMs),
      tokens_per_second: round(c.timings.tokensPerSecond),
      total_ms: round(c.totalMs),
      load_ms: round(c.timings.loadMs),
      peak_rss_mb: c.peakRssBytes === null ? null : round(c.peakRssBytes / 1024 / 1024),
      started_at_ms: round(c.startedAtMs),
      ended_at_ms: round(c.endedAtMs),
    })),
    perplexity: comparison.perplexity,
    ...(comparison.scoreNotes ? { score_notes: comparison.scoreNotes } : {}),
    ...(comparison.divergenceNote ? { divergence_note: comparison.divergenceNote } : {}),
    divergence: comparison.divergence && {
      position: comparison.divergence.position,
      common_text: comparison.divergence.commonText,
      tokens: comparison.divergence.tokens.map((t) => ({ column: t.column, token_id: t.tokenId, text: t.text, probabilities: t.probabilities, ...(t.notes ? { notes: t.notes } : {}) })),
    },
  };
}

function printText(io: CliIo, comparison: NewComparison): void {
  comparison.columns.forEach((c, i) => {
    const fallback = c.deviceFallbackReason ? ` (fallback: ${c.deviceFallbackReason})` : '';
    io.stdout(`=== ${i + 1}. ${columnLabel(c)}${fallback} ===\n`);
    io.stdout(c.error ? `[${c.status}: ${c.error.message}]\n` : `${c.text}\n`);
    io.stdout(`[ttft ${c.ttftMs === null ? '—' : `${Math.round(c.ttftMs)} ms`} · ${c.timings.tokensPerSecond.toFixed(1)} tokens/s · total ${Math.round(c.totalMs)} ms · peak ${c.peakRssBytes === null ? peakMemoryText(c) : `${peakMemoryText(c)} MB`}]\n\n`);
  });
  io.stdout('Perplexity (row: scoring model, column: output)\n');
  comparison.perplexity.forEach((row, i) => {
    const note = comparison.scoreNotes?.[i];
    io.stdout(`  ${i + 1}. ${comparison.columns[i]?.spec.modelId ?? ''}: ${note ? `not scored (${note})` : row.map((p) => (p === null ? '—' : p.toFixed(2))).join('  ')}\n`);
  });
  const d = comparison.divergence;
  if (d) {
    io.stdout(`First divergence at new token ${d.position + 1}, after ${JSON.stringify(d.commonText)}:\n`);
    for (const t of d.tokens) {
      io.stdout(`  ${t.column + 1} wrote ${t.tokenId === null ? '(ended)' : JSON.stringify(t.text)}: p = ${t.probabilities.map((p) => (p === null ? '—' : p.toPrecision(3))).join(' / ')}\n`);
    }
  } else {
    io.stdout(comparison.divergenceNote ? `${comparison.divergenceNote}\n` : 'The columns wrote the same tokens.\n');
  }
}

/** Runs `inkwell compare …`. */
export async function compareCommand(argv: readonly string[], io: CliIo, home: string): Promise<number> {
  const { device: _device, precision: _precision, 'num-return-sequences': _k, 'max-length': _maxLength, ...generationOptions } = GENERATION_OPTIONS;
  const args = parseCommandArgs('compare', argv, {
    models: { type: 'string' },
    prompt: { type: 'string' },
    precisions: { type: 'string' },
    devices: { type: 'string' },
    json: { type: 'boolean' },
    ...generationOptions,
  });
  if (args.values.help) return SHOW_HELP;
  const columns = columnsFromArgs(requireString('compare', args, 'models'), args.values.precisions as string | undefined, args.values.devices as string | undefined);
  const prompt = requireString('compare', args, 'prompt');
  const { numReturnSequences: _n, device: _d, maxLength: _m, ...params } = generationParamsFromArgs('compare', args);
  const request = CompareRequest.safeParse({ prompt, columns, params });
  if (!request.success) throw new UsageError('compare', request.error.issues[0]?.message ?? 'invalid request');

  const { Engine } = await import('../engine');
  const remote = request.data.columns.some((c) => isRemoteModelId(c.modelId)) ? openRemoteEngines(request.data.columns, io, home) : null;
  const engine = new Engine({ home });
  try {
    const comparison = await runComparison(engineCompareRunner(engine, remote?.runner), request.data, {
      emit: () => {},
      comparisonId: 'cli',
      signal: io.interrupt,
      randomSeed: () => Math.floor(Math.random() * 0x1_0000_0000),
    });
    if (args.values.json === true) io.stdout(`${JSON.stringify(compareJson(comparison))}\n`);
    else printText(io, comparison);
    if (comparison.columns.every((c) => c.status === 'failed')) {
      io.stderr(`inkwell: every column failed: ${comparison.columns[0]?.error?.message ?? ''}\n`);
      return EXIT.badInput;
    }
    return io.interrupt.aborted ? EXIT.interrupted : EXIT.ok;
  } finally {
    remote?.close();
    await engine.dispose();
  }
}

/** The remote engines of the data folder's Settings, keys from INKWELL_REMOTE_KEY_<NAME>; an engine Settings lacks is bad input. */
function openRemoteEngines(columns: CompareRequest['columns'], io: CliIo, home: string): { runner: RemoteCompareRunner; close(): void } {
  const { database } = AppDatabase.open(historyFile(home));
  try {
    const area = createRemoteArea({ settings: database.settings, keys: createRemoteKeyStore({ env: io.env }) });
    for (const column of columns) {
      if (!isRemoteModelId(column.modelId)) continue;
      try {
        area.assertKnown(column.modelId);
      } catch (error) {
        throw new EngineError('not_found', `${errorMessage(error)}: add it in the app's or serve mode's Settings → Remote engines first`);
      }
    }
    return { runner: remoteCompareRunner(area.engines), close: () => database.close() };
  } catch (error) {
    database.close();
    throw error;
  }
}
