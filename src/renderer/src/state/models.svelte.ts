/** The Models page: import by folder path, remove, device status. */
import { ModelId, type ModelSummary } from '../../../shared/api';
import type { AppState } from './app.svelte';

/** Models page state. */
export class ModelsState {
  readonly #app: AppState;
  #path = $state('');
  #id = $state('');
  #importing = $state(false);
  #importError = $state<string | null>(null);
  #lastImported = $state<string | null>(null);
  #removing = $state<string | null>(null);
  #idProblem = $derived(this.#id.trim() === '' ? null : idProblem(this.#id.trim()));

  constructor(app: AppState) {
    this.#app = app;
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
      this.#importError = problem;
      return;
    }
    this.#importing = true;
    try {
      const model = await this.#app.api.call('models.import', { path, id });
      this.#lastImported = model.id;
      this.#path = '';
      this.#id = '';
      await Promise.all([this.#app.refreshModels(), this.#app.refreshStatus()]);
    } catch (error) {
      this.#importError = error instanceof Error ? error.message : String(error);
    } finally {
      this.#importing = false;
    }
  }

  /** Removes a model (the page confirms first). */
  async remove(model: ModelSummary): Promise<void> {
    this.#removing = model.id;
    try {
      await this.#app.api.call('models.remove', { id: model.id });
      await Promise.all([this.#app.refreshModels(), this.#app.refreshStatus()]);
    } catch (error) {
      this.#app.reportError(error, `Could not remove ${model.id}`);
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
