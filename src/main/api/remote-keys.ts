/**
 * Where remote engines' API keys live. Two places, looked up in this order:
 *
 * 1. The environment variable remoteKeyVariable(name) (`INKWELL_REMOTE_KEY_LAB` for "lab"): the
 *    only place in serve mode and the CLI, which have no OS keychain; in the app it overrides the
 *    stored key.
 * 2. The OS keychain, in the desktop app: the key is encrypted by a KeyVault (Electron
 *    safeStorage, src/main/app/key-vault.ts) and only the ciphertext goes to the database's
 *    secrets table.
 *
 * Keys are write-only for the UI: nothing here returns one except `get`, which the remote client
 * calls in the main process when it sends a request. No key is ever logged or put in a message.
 */
import { ApiError } from '../../shared/api';
import { remoteKeyVariable, type RemoteKeySource, type RemoteKeyStorage } from '../../shared/remote-engines';
import { errorMessage } from '../common/errors';
import type { SecretStore } from '../history';

/** Encrypts with the OS keychain. */
export interface KeyVault {
  /** Whether keys can be stored now, and why not when they cannot. */
  status(): Promise<{ canStore: true } | { canStore: false; reason: string }>;
  encrypt(plain: string): Promise<Buffer>;
  /** The plain text, and whether the keychain wants it encrypted again (a rotated key). */
  decrypt(ciphertext: Buffer): Promise<{ plain: string; reEncrypt: boolean }>;
}

/** The keys of the remote engines. */
export interface RemoteKeyStore {
  /** Whether remoteEngines.setKey can store keys here. */
  storage(): Promise<RemoteKeyStorage>;
  /** Where the key of `engine` comes from; null when it has none. */
  source(engine: string): RemoteKeySource | null;
  /** The key of `engine` (the environment first); undefined when it has none. */
  get(engine: string): Promise<string | undefined>;
  /** Stores a key in the keychain; ApiError 'refused' where there is none. */
  set(engine: string, key: string): Promise<void>;
  /** Deletes the stored key (the environment variable stays, and is said to). */
  delete(engine: string): void;
  /** Moves the stored key of `from` to `to` (an engine renamed). */
  rename(from: string, to: string): void;
}

/** What a key store is built from. */
export interface RemoteKeyStoreOptions {
  /** Read for INKWELL_REMOTE_KEY_<NAME> on every lookup (so a changed variable counts at once in tests). */
  env: NodeJS.ProcessEnv;
  /** The OS keychain; absent in serve mode and the CLI. */
  vault?: KeyVault;
  /** Where ciphertext is kept; needed with `vault`. */
  secrets?: Pick<SecretStore, 'get' | 'set' | 'delete'>;
  log?: (line: string) => void;
}

/** The secrets-table name of an engine's key. */
function secretName(engine: string): string {
  return `remote-engine/${engine}`;
}

/** A key store over the environment and, in the app, the OS keychain. */
export function createRemoteKeyStore(options: RemoteKeyStoreOptions): RemoteKeyStore {
  const { env, vault, secrets } = options;
  const log = options.log ?? (() => {});
  const fromEnv = (engine: string): string | undefined => {
    const value = env[remoteKeyVariable(engine)]?.trim();
    return value ? value : undefined;
  };
  const stored = (engine: string): Buffer | null => (vault && secrets ? secrets.get(secretName(engine)) : null);

  return {
    async storage() {
      const howInstead = 'set the engine\'s INKWELL_REMOTE_KEY_<NAME> environment variable before starting Inkwell instead (the panel names it)';
      if (!vault || !secrets) return { canStore: false, reason: `keys cannot be stored here: inkwell serve and the CLI have no OS keychain; ${howInstead}` };
      const status = await vault.status();
      return status.canStore ? { canStore: true } : { canStore: false, reason: `${status.reason}; ${howInstead}` };
    },

    source(engine) {
      if (fromEnv(engine) !== undefined) return 'environment';
      return stored(engine) !== null ? 'keychain' : null;
    },

    async get(engine) {
      const environment = fromEnv(engine);
      if (environment !== undefined) return environment;
      const ciphertext = stored(engine);
      if (!ciphertext || !vault || !secrets) return undefined;
      let decrypted: { plain: string; reEncrypt: boolean };
      try {
        decrypted = await vault.decrypt(ciphertext);
      } catch (error) {
        // The message of a keychain failure says nothing about the key; it is safe to pass on.
        throw new ApiError('refused', `the key stored for remote engine "${engine}" cannot be decrypted by the OS keychain (${errorMessage(error)}): enter it again in Settings → Remote engines`);
      }
      if (decrypted.reEncrypt) {
        try {
          secrets.set(secretName(engine), await vault.encrypt(decrypted.plain));
        } catch (error) {
          log(`remote engines: could not re-encrypt the key of "${engine}": ${errorMessage(error)}`);
        }
      }
      return decrypted.plain;
    },

    async set(engine, key) {
      const storage = await this.storage();
      if (!storage.canStore || !vault || !secrets) {
        throw new ApiError('refused', `${storage.reason ?? 'keys cannot be stored here'} (for "${engine}": ${remoteKeyVariable(engine)})`);
      }
      secrets.set(secretName(engine), await vault.encrypt(key));
    },

    delete(engine) {
      secrets?.delete(secretName(engine));
    },

    rename(from, to) {
      if (!secrets || from === to) return;
      const ciphertext = secrets.get(secretName(from));
      if (ciphertext === null) return;
      secrets.set(secretName(to), ciphertext);
      secrets.delete(secretName(from));
    },
  };
}
