/**
 * Open and save of .txt/.md files through the native dialogs (desktop only).
 * Reading is bounded and strict UTF-8; writing is atomic (temp file + rename)
 * so a crash or full disk never leaves a half-written document behind.
 */
import { open, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { dialog, shell } from 'electron';
import type { BrowserWindow, FileFilter } from 'electron';
import { ApiError, LIMITS } from '../../shared/api';
import { writeFileAtomic } from './atomic-write';

/** File types offered by both dialogs. */
export const TEXT_FILE_FILTERS: FileFilter[] = [
  { name: 'Text and Markdown', extensions: ['txt', 'md', 'markdown'] },
  { name: 'Text', extensions: ['txt'] },
  { name: 'Markdown', extensions: ['md', 'markdown'] },
];

/** Largest file `openFile` reads: the contract's text limit at 4 bytes per character, at most. */
export const MAX_OPEN_BYTES = LIMITS.maxTextChars * 4;

/**
 * Reads a text file as UTF-8, refusing files over `maxBytes`, files that are
 * not text (NUL bytes or bytes that are not valid UTF-8: an image or a
 * program picked through "All files") and text longer than the contract
 * allows, each with a message naming the file. A leading byte-order mark is
 * dropped. Nothing is created from a refused file.
 */
export async function readTextFile(path: string, maxBytes: number = MAX_OPEN_BYTES): Promise<string> {
  const info = await stat(path);
  if (!info.isFile()) throw new ApiError('invalid_request', `${path}: not a regular file`);
  if (info.size > maxBytes) {
    throw new ApiError('refused', `${path}: ${info.size} bytes is more than the ${maxBytes}-byte limit for a document`);
  }
  const handle = await open(path, 'r');
  let bytes: Buffer;
  try {
    // Read at most maxBytes + 1 so a file that grew after stat is still caught.
    const buffer = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > maxBytes) throw new ApiError('refused', `${path}: larger than the ${maxBytes}-byte limit for a document`);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const name = JSON.stringify(basename(path));
  // UTF-16 text and binaries are full of NUL bytes; a writer's text never contains one.
  if (bytes.includes(0)) throw new ApiError('invalid_request', `${name} is not a text file (it contains NUL bytes): open a .txt or .md file saved as UTF-8`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError('invalid_request', `${name} is not a text file (its bytes are not valid UTF-8): open a .txt or .md file saved as UTF-8`);
  }
  if (text.length > LIMITS.maxTextChars) {
    throw new ApiError('refused', `${path}: ${text.length} characters is more than the ${LIMITS.maxTextChars}-character limit for a document`);
  }
  return text;
}

/** Gives a suggested name an extension the filters accept (".md" unless it has .txt/.md). */
export function withTextExtension(name: string): string {
  const ext = extname(name).toLowerCase();
  return ext === '.txt' || ext === '.md' || ext === '.markdown' ? name : `${name}.md`;
}

/** The `files.open` / `files.save` implementations the API service takes. */
export interface FileDialogs {
  openFile(): Promise<{ name: string; content: string } | null>;
  saveFile(suggestedName: string, content: string): Promise<{ path: string } | null>;
  /** The native folder picker for importing a checkpoint folder; null when cancelled. */
  pickFolder(): Promise<string | null>;
}

/** Builds the dialogs, parented to the window `getWindow` returns (modal on macOS). */
export function createFileDialogs(getWindow: () => BrowserWindow | null): FileDialogs {
  return {
    async openFile() {
      const window = getWindow();
      const options = { title: 'Open document', properties: ['openFile' as const], filters: TEXT_FILE_FILTERS };
      const picked = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      const path = picked.filePaths[0];
      if (picked.canceled || path === undefined) return null;
      return { name: basename(path), content: await readTextFile(path) };
    },
    async saveFile(suggestedName, content) {
      const window = getWindow();
      // Only a bare file name is taken from the renderer; the folder is the user's choice.
      const options = { title: 'Save document', defaultPath: withTextExtension(basename(suggestedName)), filters: TEXT_FILE_FILTERS };
      const picked = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
      if (picked.canceled || !picked.filePath) return null;
      await writeFileAtomic(picked.filePath, content);
      return { path: picked.filePath };
    },
    async pickFolder() {
      const window = getWindow();
      const options = { title: 'Choose a model folder (config.json, model.safetensors, tokenizer)', properties: ['openDirectory' as const] };
      const picked = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      const path = picked.filePaths[0];
      return picked.canceled || path === undefined ? null : path;
    },
  };
}

/** File types of a batch's prompts file (the formats the batch core reads). */
export const PROMPTS_FILE_FILTERS: FileFilter[] = [
  { name: 'Prompts (text, JSON Lines, CSV)', extensions: ['txt', 'jsonl', 'ndjson', 'csv'] },
];

/** The Batch page's dialogs: the paths go to the main process's batch core; no file content crosses to the renderer. */
export interface BatchFileDialogs {
  pickPrompts(): Promise<{ path: string } | null>;
  pickResults(suggestedPath: string): Promise<{ path: string } | null>;
  reveal(path: string): void;
}

/** Builds the Batch page's dialogs, parented to the window `getWindow` returns. */
export function createBatchFileDialogs(getWindow: () => BrowserWindow | null): BatchFileDialogs {
  return {
    async pickPrompts() {
      const window = getWindow();
      const options = { title: 'Choose a prompts file', properties: ['openFile' as const], filters: PROMPTS_FILE_FILTERS };
      const picked = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      const path = picked.filePaths[0];
      return picked.canceled || path === undefined ? null : { path };
    },
    async pickResults(suggestedPath) {
      const window = getWindow();
      const options = { title: 'Save the results as', ...(suggestedPath ? { defaultPath: suggestedPath } : {}), filters: [{ name: 'JSON Lines', extensions: ['jsonl'] }] };
      const picked = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
      if (picked.canceled || !picked.filePath) return null;
      return { path: extname(picked.filePath).toLowerCase() === '.jsonl' ? picked.filePath : `${picked.filePath}.jsonl` };
    },
    reveal(path) {
      shell.showItemInFolder(path);
    },
  };
}
