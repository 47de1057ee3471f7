/**
 * A data folder for the browser suites: a fresh INKWELL_HOME with tiny random
 * GPT-2 checkpoints imported through the real CLI, removed again afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../../helpers/checkpoint-factory';
import { runCli } from './serve-process';

/** One model to import: its id and the random checkpoint's shape. */
export interface WorkspaceModel {
  id: string;
  checkpoint: RandomCheckpointOptions;
}

/** The tiny model most browser tests use: fast on two cores, a 128-token window. */
export const tinyModel: WorkspaceModel = { id: 'tiny', checkpoint: { nLayer: 2, nEmbd: 64, nHead: 2, nPositions: 128, seed: 7 } };

/** A prepared INKWELL_HOME. */
export interface Workspace {
  home: string;
  /** Deletes the data folder and the checkpoints. */
  remove(): void;
}

/** Makes a data folder and imports `models` into it (`inkwell models import`). */
export async function createWorkspace(models: readonly WorkspaceModel[] = [tinyModel]): Promise<Workspace> {
  const home = mkdtempSync(join(tmpdir(), 'inkwell-e2e-home-'));
  const dirs = [home];
  const remove = (): void => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const model of models) {
      const checkpointDir = mkdtempSync(join(tmpdir(), 'inkwell-e2e-ckpt-'));
      dirs.push(checkpointDir);
      await makeRandomCheckpoint(checkpointDir, model.checkpoint);
      const imported = await runCli(['models', 'import', checkpointDir, '--id', model.id], home);
      if (imported.code !== 0) throw new Error(`models import ${model.id} failed (${imported.code}):\n${imported.stderr}`);
    }
  } catch (error) {
    remove();
    throw error;
  }
  return { home, remove };
}
