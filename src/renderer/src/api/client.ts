/**
 * What the renderer's API clients offer on top of the shared contract: the
 * serve-mode client can lose its connection and says so; the desktop bridge
 * cannot, and leaves `onConnectionChange` out.
 */
import type { InkwellApi } from '../../../shared/api';

/** Whether events from the back end can arrive. */
export type ConnectionState = 'connected' | 'reconnecting';

/** The API as the renderer holds it. */
export interface ClientApi extends InkwellApi {
  /** Tells `listener` when the connection is lost and when it is back; returns an unsubscribe function. */
  onConnectionChange?(listener: (state: ConnectionState) => void): () => void;
}
