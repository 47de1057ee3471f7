/**
 * The inspect graphs of a stored model, built on first use beside its decoder graphs and kept:
 * models imported before the inspector existed need no re-import, and importing stays as fast.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../checkpoint';
import { buildInspectForwardGraph, buildReadoutGraph, INSPECT_GRAPH_VERSION, placeNativeWeights } from '../onnx/inspect-graphs';
import type { InspectPaths } from '../runtime/inspect-session';
import { EngineError } from '../types';

/** File name of the forward graph (attentions and residual streams). */
export const INSPECT_FORWARD_FILE = `model_inspect.v${INSPECT_GRAPH_VERSION}.onnx`;
/** File name of the readout graph (ln_f + lm_head, compact). */
export const INSPECT_READOUT_FILE = `model_readout.v${INSPECT_GRAPH_VERSION}.onnx`;

/**
 * The inspect graph paths of the model stored in `modelDir` whose decoder graphs are in `onnxDir`,
 * building them first when missing. Each file is written under a temporary name and renamed into
 * place, so a crash or a second process building at the same time never leaves a partial graph.
 */
export async function ensureInspectGraphs(modelDir: string, onnxDir: string): Promise<InspectPaths> {
  const paths: InspectPaths = { forwardPath: join(onnxDir, INSPECT_FORWARD_FILE), readoutPath: join(onnxDir, INSPECT_READOUT_FILE) };
  if (existsSync(paths.forwardPath) && existsSync(paths.readoutPath)) return paths;
  const ckpt = await readCheckpoint(modelDir);
  const written: string[] = [];
  const temporary: string[] = [];
  try {
    const weights = placeNativeWeights(ckpt, onnxDir, written);
    const graphs = [
      [paths.forwardPath, buildInspectForwardGraph(ckpt.config, weights)],
      [paths.readoutPath, buildReadoutGraph(ckpt.config, weights, ckpt.tiedLmHead)],
    ] as const;
    for (const [path, graph] of graphs) {
      const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
      temporary.push(tmp);
      writeFileSync(tmp, graph.toModelProto());
      renameSync(tmp, path);
    }
  } catch (error) {
    for (const file of [...temporary, ...written]) rmSync(file, { force: true });
    if (error instanceof EngineError) throw error;
    throw new EngineError('internal', `building the inspect graphs in ${onnxDir} failed: ${(error as Error).message}`, { cause: error });
  }
  return paths;
}
