import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dialog, resetElectronMock } from '../../mocks/electron';
import { createFileDialogs, readTextFile, withTextExtension } from '../../../src/main/app/file-dialogs';

vi.mock('electron', () => import('../../mocks/electron'));

let dir: string;
beforeEach(() => {
  resetElectronMock();
  dir = mkdtempSync(join(tmpdir(), 'inkwell-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readTextFile', () => {
  it('reads UTF-8 and drops a byte-order mark', async () => {
    const file = join(dir, 'a.md');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo — ✍️\n', 'utf8')]));
    expect(await readTextFile(file)).toBe('héllo — ✍️\n');
  });

  it('refuses a file over the byte limit, naming it', async () => {
    const file = join(dir, 'big.txt');
    writeFileSync(file, 'x'.repeat(101));
    await expect(readTextFile(file, 100)).rejects.toMatchObject({ kind: 'refused', message: expect.stringContaining('big.txt') });
    expect(await readTextFile(file, 101)).toHaveLength(101);
  });

  it('refuses bytes that are not UTF-8, naming the file', async () => {
    const file = join(dir, 'latin1.txt');
    writeFileSync(file, Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    await expect(readTextFile(file)).rejects.toMatchObject({ kind: 'invalid_request', message: expect.stringMatching(/^"latin1\.txt" is not a text file \(its bytes are not valid UTF-8\)/) });
  });

  // Issue 7: a PNG opened through "All files" became a document named after it.
  it('refuses a binary file, even one whose bytes happen to be valid UTF-8, because of its NUL bytes', async () => {
    const png = join(dir, 'photo.png');
    writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]));
    await expect(readTextFile(png)).rejects.toMatchObject({ kind: 'invalid_request', message: expect.stringMatching(/^"photo\.png" is not a text file/) });
    const utf16 = join(dir, 'notes.txt');
    writeFileSync(utf16, Buffer.from('Hello', 'utf16le'));
    await expect(readTextFile(utf16)).rejects.toMatchObject({ kind: 'invalid_request', message: expect.stringContaining('"notes.txt" is not a text file (it contains NUL bytes)') });
    const dialogs = createFileDialogs(() => null);
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: [png] });
    await expect(dialogs.openFile()).rejects.toMatchObject({ kind: 'invalid_request' });
  });

  it('refuses a folder', async () => {
    await expect(readTextFile(dir)).rejects.toMatchObject({ kind: 'invalid_request' });
  });
});

describe('withTextExtension', () => {
  it('keeps .txt/.md and adds .md otherwise', () => {
    expect(withTextExtension('notes.txt')).toBe('notes.txt');
    expect(withTextExtension('Draft.MD')).toBe('Draft.MD');
    expect(withTextExtension('Chapter 1')).toBe('Chapter 1.md');
    expect(withTextExtension('archive.tar')).toBe('archive.tar.md');
  });
});

describe('createFileDialogs', () => {
  it('opens the picked file, or returns null when cancelled', async () => {
    const file = join(dir, 'story.txt');
    writeFileSync(file, 'Once upon a time');
    const dialogs = createFileDialogs(() => null);
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: [file] });
    expect(await dialogs.openFile()).toEqual({ name: 'story.txt', content: 'Once upon a time' });
    const options = dialog.showOpenDialog.mock.calls[0]?.[0] as { filters: { extensions: string[] }[] };
    expect(options.filters.flatMap((f) => f.extensions)).toEqual(expect.arrayContaining(['txt', 'md']));
    dialog.showOpenDialog.mockResolvedValueOnce({ canceled: true, filePaths: [] });
    expect(await dialogs.openFile()).toBeNull();
  });

  it('saves to the chosen path, suggesting only a bare file name', async () => {
    const target = join(dir, 'saved.md');
    const window = { id: 1 };
    const dialogs = createFileDialogs(() => window as never);
    dialog.showSaveDialog.mockResolvedValueOnce({ canceled: false, filePath: target });
    expect(await dialogs.saveFile('../../etc/My Draft', '# Title\n')).toEqual({ path: target });
    expect(readFileSync(target, 'utf8')).toBe('# Title\n');
    expect(dialog.showSaveDialog).toHaveBeenCalledWith(window, expect.objectContaining({ defaultPath: 'My Draft.md' }));
    dialog.showSaveDialog.mockResolvedValueOnce({ canceled: true, filePath: '' });
    expect(await dialogs.saveFile('x.md', 'y')).toBeNull();
  });
});
