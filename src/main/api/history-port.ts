/**
 * The parts of the database's stores the API service uses, named so that tests can hand the
 * service fakes while production hands it the real AppDatabase.
 */
import type { ComparisonStore, DocumentStore, GenerationStore, SettingsStore } from '../history';

/** The stores' surface used by the API. */
export interface HistoryPort {
  /** True when the database can be read but not written. */
  readonly readOnly: boolean;
  generations: Pick<GenerationStore, 'add' | 'list' | 'get' | 'setStarred' | 'setAccepted' | 'delete' | 'export'>;
  documents: Pick<DocumentStore, 'list' | 'get' | 'create' | 'save' | 'delete'>;
  settings: Pick<SettingsStore, 'get' | 'set'>;
  comparisons: Pick<ComparisonStore, 'add' | 'list' | 'get' | 'delete' | 'export'>;
}
