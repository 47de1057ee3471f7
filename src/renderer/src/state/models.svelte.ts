/** The Models page: import by folder path, remove, device status. */
import { ApiError, ModelId, type ModelSummary } from '../../../shared/api';
import type { ApiCaller, Reporter } from './deps';

/** What ModelsState is built from. */
export interface ModelsDeps {
  api: ApiCaller;
  reporter: Reporter;
  /** Reloads the model list and the engine status after an import or a removal. */
  onModelsChanged: () => Promise<void>;
}

/** Models page state. */
export class ModelsState {
  readonly #deps: ModelsDeps;
  #path = $state('');
  #id = $state('');
  #importing = $state(false);
  #importError = $state<string | null>(null);
  #lastImported = $state<string | null>(null);
  #removing = $state<string | null>(null);
  #idProblem = $derived(this.#id.trim() === '' ? null : idProblem(this.#id.trim()));

  constructor(deps: ModelsDeps) {
    this.#deps = deps;
  }

  get path(): string {
    return this.#path;
  }
  get id(): string {
    return this.#id;
  }
  get importing(): boolean {
    return this.#importing;
  }
  get importError(): string | null {
    return this.#importError;
  }
  /** Id of the model imported last (for the success message). */
  get lastImported(): string | null {
    return this.#lastImported;
  }
  /** Id of the model being removed. */
  get removing(): string | null {
    return this.#removing;
  }
  /** Why the typed id is not usable, or null. */
  get idProblem(): string | null {
    return this.#idProblem;
  }

  /** Edits the folder path; suggests an id from the folder's name while the id is empty. */
  setPath(path: string): void {
    this.#path = path;
  }

  /** Edits the model id. */
  setId(id: string): void {
    this.#id = id;
  }

  /** The id to use: the typed one, else one derived from the folder name. */
  get effectiveId(): string {
    return this.#id.trim() || suggestId(this.#path);
  }

  /** Imports the folder (converting the checkpoint to ONNX can take a while). */
  async importModel(): Promise<void> {
    const path = this.#path.trim();
    const id = this.effectiveId;
    this.#importError = null;
    this.#lastImported = null;
    if (path === '') {
      this.#importError = 'Enter the folder that holds config.json and model.safetensors.';
      return;
    }
    const problem = idProblem(id);
    if (problem) {
      // A typed id's problem is already shown under the field (idProblem); say it once.
      if (this.#id.trim() === '') this.#importError = problem;
      return;
    }
    this.#importing = true;
    try {
      const model = await this.#deps.api.call('models.import', { path, id });
      this.#lastImported = model.id;
      this.#path = '';
      this.#id = '';
      await this.#deps.onModelsChanged();
    } catch (error) {
      this.#importError = ApiError.from(error).message;
    } finally {
      this.#importing = false;
    }
  }

  /** Removes a model (the page confirms first). */
  async remove(model: ModelSummary): Promise<void> {
    this.#removing = model.id;
    try {
      await this.#deps.api.call('models.remove', { id: model.id });
      await this.#deps.onModelsChanged();
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not remove ${model.id}`);
    } finally {
      this.#removing = null;
    }
  }
}

/** A model id from a folder path: "/models/gpt2-large/" → "gpt2-large". */
export function suggestId(path: string): string {
  const name = path.trim().replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '').slice(0, 64);
}

function idProblem(id: string): string | null {
  const result = ModelId.safeParse(id);
  return result.success ? null : `Model id: ${result.error.issues[0]?.message ?? 'invalid'}`;
}
