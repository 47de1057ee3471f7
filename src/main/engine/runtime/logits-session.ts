/**
 * The all-positions graph on its own, for scoring a text (the quality figures of precision
 * variants): one session, no decoder beside it, so measuring GPT-2 Large holds its weights once.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { pastName } from '../onnx/gpt2';
import { EngineError, type Gpt2Config } from '../types';
import { baseOptions } from './decoder';

/** Scores token sequences with one all-positions graph on the CPU. */
export interface LogitsSession {
  /** Logits after every prefix of `ids`: [ids.length · vocab]. */
  logitsAll(ids: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

function int64(values: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [1, values.length]);
}

/** Opens `fullLogitsPath` (a model_all_logits.onnx of any precision) on the CPU. */
export async function openLogitsSession(fullLogitsPath: string, config: Gpt2Config): Promise<LogitsSession> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(fullLogitsPath, baseOptions('cpu'));
  } catch (error) {
    throw new EngineError('internal', `${fullLogitsPath}: onnxruntime could not load the graph: ${(error as Error).message}`, { cause: error });
  }
  const headDim = config.nEmbd / config.nHead;
  return {
    async logitsAll(ids) {
      if (ids.length === 0 || ids.length > config.nPositions) {
        throw new EngineError('bad_input', `logitsAll: ${ids.length} tokens; 1 to ${config.nPositions} fit the context window`);
      }
      const feeds: Record<string, Tensor> = {
        input_ids: int64(ids),
        attention_mask: int64(ids.map(() => 1)),
        position_ids: int64(ids.map((_, i) => i)),
      };
      for (let l = 0; l < config.nLayer; l++) {
        for (const kind of ['key', 'value'] as const) {
          feeds[pastName(l, kind)] = new Tensor('float32', new Float32Array(0), [1, config.nHead, 0, headDim]);
        }
      }
      const out = await session.run(feeds);
      const logits = out.logits;
      for (const [name, t] of Object.entries(out)) if (name !== 'logits') t.dispose();
      if (!logits) throw new EngineError('internal', `${fullLogitsPath}: the graph returned no logits`);
      return logits.data as Float32Array;
    },
    release: () => session.release(),
  };
}
