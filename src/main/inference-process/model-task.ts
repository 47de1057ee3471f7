/**
 * The body of a model task (pull, HF-cache import, folder import, conversion) as the task worker
 * thread runs it: one store call, its progress mapped onto the API's TaskProgress, and a line that
 * says what was made. Thread-free, so tests run it directly.
 */
import { formatBytes } from '../../shared/models';
import type { TaskProgress } from '../../shared/models';
import type { ModelTaskOutcome, ModelTaskWork } from '../common/inference-protocol';
import type { ConvertProgress, ImportProgress, LoadProgress, ModelStore, PullProgress, StoredModel } from '../engine';

/** Progress and cancellation of one task. */
export interface ModelTaskHooks {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: TaskProgress) => void;
}

/** Runs `work` against `store`. */
export async function runModelTask(store: ModelStore, work: ModelTaskWork, hooks: ModelTaskHooks = {}): Promise<ModelTaskOutcome> {
  const { signal, onProgress } = hooks;
  switch (work.kind) {
    case 'pull': {
      const result = await store.pull(work.name, {
        ...(work.id !== undefined ? { id: work.id } : {}),
        ...(signal ? { signal } : {}),
        onProgress: (p) => onProgress?.(pullProgress(p)),
      });
      if (result.kind === 'tokenizer') return { message: `the ${result.alias} tokenizer is installed (${result.files.join(', ')})` };
      const resumed = result.resumedBytes > 0 ? `, resumed after ${formatBytes(result.resumedBytes)}` : '';
      return { modelId: result.model.id, message: `${installed(result.model)}: ${formatBytes(result.downloadedBytes)} downloaded from ${result.repo}${resumed}` };
    }
    case 'cache-import': {
      const model = await store.importFromHfCache(work.name, {
        ...(work.id !== undefined ? { id: work.id } : {}),
        ...(signal ? { signal } : {}),
        onProgress: (p) => onProgress?.(importProgress(p)),
      });
      return { modelId: model.id, message: `${installed(model)} from the Hugging Face cache${model.weightsLinked ? ' (weights linked, not copied)' : ''}` };
    }
    case 'folder-import': {
      const model = await store.import(work.srcDir, work.id, { ...(signal ? { signal } : {}), onProgress: (p) => onProgress?.(importProgress(p)) });
      return { modelId: model.id, message: `${installed(model)} from ${work.srcDir}` };
    }
    case 'convert': {
      const variant = await store.convert(work.id, work.precision, { ...(signal ? { signal } : {}), onProgress: (p) => onProgress?.(convertProgress(p)) });
      const quality = variant.quality ? `, mean KL ${variant.quality.meanKl.toPrecision(3)} nats, greedy agreement ${(variant.quality.greedyAgreement * 100).toFixed(1)}%` : '';
      const speed = variant.speed ? `, ${variant.speed.decodeMsPerStep.toFixed(1)} ms/step (fp32 ${variant.speed.fp32DecodeMsPerStep.toFixed(1)})` : '';
      return { modelId: work.id, message: `the ${work.precision} variant of ${work.id} is ready (${formatBytes(variant.sizeBytes)}${quality}${speed})` };
    }
  }
}

function installed(model: StoredModel): string {
  return `${model.id} is installed (${model.name}, ${formatBytes(model.sizeBytes)})`;
}

/** A pull's progress: downloading counts for 90% of the task, the import the rest. */
export function pullProgress(p: PullProgress): TaskProgress {
  if (p.phase === 'listing') return { phase: 'listing the repository', fraction: null };
  const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 0;
  if (p.phase === 'downloading') {
    return {
      phase: 'downloading',
      fraction: clamp(0.9 * share),
      bytesDone: p.bytesDone,
      bytesTotal: p.bytesTotal,
      bytesPerSecond: p.bytesPerSecond,
      ...(p.secondsLeft !== undefined ? { secondsLeft: p.secondsLeft } : {}),
      ...(p.file !== undefined ? { file: p.file } : {}),
    };
  }
  return { phase: `importing: ${p.importPhase ?? 'building'}`, fraction: clamp(0.9 + 0.1 * share), bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
}

function importProgress(p: ImportProgress): TaskProgress {
  return { phase: p.phase, fraction: p.bytesTotal > 0 ? clamp(p.bytesDone / p.bytesTotal) : null, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
}

function convertProgress(p: ConvertProgress): TaskProgress {
  const phase = { weights: 'writing the weights', quality: 'measuring quality against fp32', speed: 'measuring decode speed', done: 'done' }[p.phase];
  return { phase, fraction: clamp(p.fraction) };
}

function clamp(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}

/** A decoder load's progress: reading the files is 90% of it, creating the session the rest. */
export function loadTaskProgress(p: LoadProgress): TaskProgress {
  const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : 1;
  const phase = { reading: 'reading the weights', session: 'creating the onnxruntime session', ready: 'ready' }[p.phase];
  const fraction = p.phase === 'reading' ? 0.9 * share : p.phase === 'session' ? 0.9 : 1;
  return { phase, fraction: clamp(fraction), bytesDone: p.bytesDone, bytesTotal: p.bytesTotal };
}
