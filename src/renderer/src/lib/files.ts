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
  api: InkwellApi,
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

/** Reads a File chosen in an <input type=file>. */
export async function readPickedFile(file: File): Promise<OpenedFile> {
  return { name: file.name, content: await file.text() };
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
