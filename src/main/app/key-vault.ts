/**
 * The OS keychain as a KeyVault, through Electron's safeStorage (Keychain on macOS, DPAPI on
 * Windows, libsecret or KWallet on Linux), with its asynchronous API: the synchronous
 * encryptString/decryptString are deprecated in the Electron Inkwell is built with.
 *
 * On Linux without a keyring, safeStorage falls back to the 'basic_text' backend, which encrypts
 * with a password hard-coded in Chromium: a key stored that way is as good as plain text, so
 * Inkwell refuses to store one and says to use the environment variable instead.
 * https://www.electronjs.org/docs/latest/api/safe-storage#safestoragegetselectedstoragebackend-linux
 */
import { safeStorage } from 'electron';
import type { KeyVault } from '../api/remote-keys';

/** A vault over safeStorage; call it after the app is ready (safeStorage is not usable before). */
export function createSafeStorageVault(platform: NodeJS.Platform = process.platform): KeyVault {
  return {
    async status() {
      if (!(await safeStorage.isAsyncEncryptionAvailable())) {
        return { canStore: false, reason: 'the OS keychain is not available to Inkwell' };
      }
      if (platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') {
        return {
          canStore: false,
          reason: 'no OS keyring was found (GNOME Keyring or KWallet): Electron would store keys with a fixed, public password ("basic_text"), which is no protection',
        };
      }
      return { canStore: true };
    },
    encrypt: (plain) => safeStorage.encryptStringAsync(plain),
    async decrypt(ciphertext) {
      const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(ciphertext);
      return { plain: result, reEncrypt: shouldReEncrypt };
    },
  };
}
