/**
 * The part of the history store the API service uses, named so that tests can
 * hand the service a fake while production hands it the real HistoryStore.
 */
import type { HistoryStore } from '../history';

/** The history store's surface used by the API. */
export type HistoryPort = Pick<
  HistoryStore,
  | 'addGeneration'
  | 'list'
  | 'get'
  | 'setStarred'
  | 'setAccepted'
  | 'delete'
  | 'export'
  | 'listDocuments'
  | 'getDocument'
  | 'createDocument'
  | 'saveDocument'
  | 'deleteDocument'
  | 'getSettings'
  | 'setSettings'
>;
