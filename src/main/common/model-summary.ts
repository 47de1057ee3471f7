/**
 * The UI's view of a stored model. Kept apart from the store so that both the
 * main process (models.list) and the inference process (importModel) build the
 * same summary.
 */
import type { ModelSummary, Precision, WeightDtype } from '../../shared/api';

/** The fields of a StoredModel (engine/models/store.ts) a summary is made from. */
export interface StoredModelFields {
  id: string;
  name: string;
  config: { nLayer: number; nEmbd: number; nHead: number; nPositions: number; vocabSize: number };
  dtype: WeightDtype;
  parameters: number;
  sizeBytes: number;
  importedAt: string;
  /** Precision variants made by conversion (the store lists them; fp32 is the model itself). */
  variants?: readonly { precision: Precision }[];
}

/** Projects a stored model onto the API's ModelSummary. */
export function toModelSummary(model: StoredModelFields): ModelSummary {
  return {
    id: model.id,
    name: model.name,
    nLayer: model.config.nLayer,
    nEmbd: model.config.nEmbd,
    nHead: model.config.nHead,
    nPositions: model.config.nPositions,
    vocabSize: model.config.vocabSize,
    parameters: model.parameters,
    dtype: model.dtype,
    sizeBytes: model.sizeBytes,
    importedAt: model.importedAt,
  };
}
