/**
 * Opening checkpoint files safely: only regular files (a symlink is followed
 * to its target, which must be one), never a folder, FIFO or device, with a
 * size limit for text files, and errors that name the file and the problem
 * but never repeat what the file holds (a config.json linked to /etc/passwd
 * must not print its first line).
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { EngineError } from '../types';

/** One MiB, the unit text-file limits are stated in. */
const MIB = 1024 * 1024;

// O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer (open(2));
// it changes nothing for regular files. Windows has no FIFOs and no such flag.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'folder';
  if (stats.isFIFO()) return 'FIFO (named pipe)';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  if (stats.isSocket()) return 'socket';
  return 'special file';
}

/** An EngineError for a failed open/read of `file`, from the errno alone. */
export function fileError(file: string, error: unknown): EngineError {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return new EngineError('not_found', `${file}: missing`, { cause: error });
    case 'EISDIR':
      return new EngineError('bad_input', `${file}: not a regular file (a folder)`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new EngineError('bad_input', `${file}: cannot be read (permission denied)`, { cause: error });
    case 'ELOOP':
      return new EngineError('bad_input', `${file}: cannot be read (a loop of symbolic links)`, { cause: error });
    case 'ENOTDIR':
      return new EngineError('not_found', `${file}: missing (a part of the path is not a folder)`, { cause: error });
    default:
      return new EngineError('bad_input', `${file}: cannot be read (${code ?? (error as Error).message})`, { cause: error });
  }
}

/**
 * Opens `file` for reading if it is a regular file (following symlinks); a folder, FIFO, socket
 * or device is refused without blocking. The caller closes the handle.
 */
export async function openRegularFile(file: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, OPEN_FLAGS);
  } catch (error) {
    throw fileError(file, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new EngineError('bad_input', `${file}: not a regular file (a ${kindOf(stats)})`);
    return { handle, size: stats.size };
  } catch (error) {
    await handle.close();
    throw error instanceof EngineError ? error : fileError(file, error);
  }
}

/** Reads all of regular file `file`, refusing one larger than `maxBytes`. */
export async function readRegularFile(file: string, maxBytes: number): Promise<Buffer> {
  const { handle, size } = await openRegularFile(file);
  try {
    if (size > maxBytes) {
      throw new EngineError('bad_input', `${file}: ${(size / MIB).toFixed(1)} MiB is more than the ${(maxBytes / MIB).toFixed(0)} MiB such a file may have`);
    }
    // One byte more than the size: a file that grows while it is read is noticed, not cut.
    const buffer = Buffer.alloc(size + 1);
    let done = 0;
    while (done < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, done, buffer.byteLength - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done > size) throw new EngineError('bad_input', `${file}: changed while it was being read`);
    return buffer.subarray(0, done);
  } catch (error) {
    throw error instanceof EngineError ? error : fileError(file, error);
  } finally {
    await handle.close();
  }
}

/**
 * A JSON.parse error described without the text around it: V8's messages quote the input
 * ('Unexpected token 'r', "root:x:0:0:"... is not valid JSON'), so only the position is kept.
 */
export function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : '';
  if (/unexpected end of json input/i.test(message)) return 'it ends in the middle of a value';
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) {
    const before = text.slice(0, Number(position));
    const line = before.split('\n').length;
    const column = Number(position) - before.lastIndexOf('\n');
    return `syntax error at line ${line}, column ${column}`;
  }
  return 'not valid JSON';
}

/**
 * How an error message shows a value read from a file: numbers, booleans and null as they are,
 * short printable strings quoted, anything else by its type and size only.
 */
export function describeValue(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    return value.length <= 24 && /^[\x20-\x7e]*$/.test(value) ? JSON.stringify(value) : `a ${value.length}-character string`;
  }
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return `a ${typeof value === 'object' ? 'JSON object' : typeof value}`;
}
