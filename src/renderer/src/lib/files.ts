/**
 * Reading and writing .txt/.md files: the desktop app has native dialogs
 * (files.open / files.save); a browser reads an <input type=file> and
 * downloads through a link.
 */
import type { InkwellApi } from '../../../shared/api';

/** A text file the user picked. */
export interface OpenedFile {
  name: string;
  content: string;
}

/** Saves text: native dialog in the desktop app, a download in a browser. Returns false when the user cancelled. */
export async function saveTextFile(
  api: Pick<InkwellApi, 'call'>,
  nativeDialogs: boolean,
  file: { name: string; content: string; mimeType: string },
): Promise<boolean> {
  if (nativeDialogs) {
    const saved = await api.call('files.save', { suggestedName: file.name, content: file.content });
    return saved !== null;
  }
  downloadText(file.name, file.content, file.mimeType);
  return true;
}

/** Starts a browser download of `content` named `name`. */
export function downloadText(name: string, content: string, mimeType: string): void {
  const url = URL.createObjectURL(new Blob([content], { type: `${mimeType};charset=utf-8` }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke later: some browsers read the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A picked file that is not text (an image, an archive, a word-processor file). */
export class NotTextFileError extends Error {
  constructor(name: string) {
    super(`${name} is not a text file: Inkwell opens plain text (.txt, .md). Nothing was created.`);
    this.name = 'NotTextFileError';
  }
}

/**
 * Decodes a picked file as text, or throws NotTextFileError. Binary data is
 * recognised as git does (a NUL byte) or by a share of control characters no
 * text has; text that is not UTF-8 is read as Windows-1252, which is what old
 * Windows editors wrote. Line ends become "\n" and a byte-order mark is dropped.
 */
export function decodeTextFile(name: string, bytes: Uint8Array): string {
  let control = 0;
  for (const byte of bytes) {
    if (byte === 0) throw new NotTextFileError(name);
    // Tab, line feed, form feed, carriage return and escape occur in text files.
    if (byte < 32 && byte !== 9 && byte !== 10 && byte !== 12 && byte !== 13 && byte !== 27) control += 1;
  }
  if (bytes.length > 0 && control / bytes.length > 0.01) throw new NotTextFileError(name);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder('windows-1252').decode(bytes);
  }
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/**
 * Checks text that arrived already decoded (the desktop app's open dialog):
 * NUL characters, or replacement characters where bytes were not UTF-8, mean
 * it was not a text file. Returns the text with "\n" line ends.
 */
export function checkedText(name: string, content: string): string {
  let replaced = 0;
  for (let i = 0; i < content.length; i += 1) {
    const code = content.charCodeAt(i);
    if (code === 0) throw new NotTextFileError(name);
    if (code === 0xfffd) replaced += 1;
  }
  if (content.length > 0 && replaced / content.length > 0.01) throw new NotTextFileError(name);
  return content.replace(/\r\n?/g, '\n');
}

/** Reads a File chosen in an <input type=file>; throws NotTextFileError for binary files. */
export async function readPickedFile(file: File): Promise<OpenedFile> {
  return { name: file.name, content: decodeTextFile(file.name, new Uint8Array(await file.arrayBuffer())) };
}

/** "Chapter 1.md" → "Chapter 1". */
export function titleFromFileName(name: string): string {
  const base = name.replace(/\.(txt|md|markdown)$/i, '').trim();
  return base.length > 0 ? base.slice(0, 200) : 'Untitled';
}

/** A safe file name for a document title: "Chapter 1: Fog?" → "Chapter 1 Fog.md". */
export function fileNameForTitle(title: string, extension: 'txt' | 'md'): string {
  const base = title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 120);
  return `${base.length > 0 ? base : 'Untitled'}.${extension}`;
}
