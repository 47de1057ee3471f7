/**
 * Downloads one Hub file, resumable across dropped connections and restarts:
 * bytes go to `<dest>.partial`, with a small sidecar `<dest>.partial.json`
 * recording the size, hash and ETag they belong to. A later attempt asks for
 * the rest with `Range` + `If-Range`; a server that answers 200 instead of 206
 * (it ignores Range, or the file changed) is written again from byte 0. The
 * file is renamed to `<dest>` only after its sha256 (Git LFS) or git blob id
 * matches the listing, so a partial file is never taken for a complete one.
 */
import { createHash, type Hash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EngineError } from '../types';
import { diskWriteError } from './disk';
import { header, HubError, hubGet, statusError, type HubConnection } from './hub-http';
import type { HubFile } from './hub-repo';

/** What downloadFile needs. */
export interface DownloadRequest {
  readonly url: string;
  /** Expected size and hash, from the tree listing. */
  readonly file: HubFile;
  /** Final path; `<dest>.partial` and `<dest>.partial.json` are used on the way. */
  readonly dest: string;
  readonly connection: HubConnection;
  readonly signal?: AbortSignal;
  /** Bytes of this file on disk so far (drops to 0 when a transfer restarts from the beginning). */
  readonly onProgress?: (bytesDone: number) => void;
  /** Attempts after a dropped connection or a server error before giving up; default 4. */
  readonly retries?: number;
  /** Wait before retry `attempt` (1-based); default 1 s, 2 s, 4 s, … up to 30 s. */
  readonly retryDelayMs?: (attempt: number) => number;
}

/** How a download went. */
export interface DownloadOutcome {
  /** Bytes already on disk from an earlier attempt or run when this call started. */
  readonly resumedFrom: number;
  /** Times the transfer had to begin again at byte 0 (a server that ignored Range, a changed file). */
  readonly restartsFromZero: number;
  /** Attempts that failed and were retried. */
  readonly retried: number;
  /** The commit the Hub served the file from (X-Repo-Commit), when it said. */
  readonly commit?: string;
}

const Sidecar = z.object({
  size: z.number().int().nonnegative(),
  sha256: z.string().optional(),
  gitOid: z.string().optional(),
  etag: z.string().optional(),
});
type Sidecar = z.infer<typeof Sidecar>;

/** Suffix of a file being downloaded. */
export const PARTIAL_SUFFIX = '.partial';

const WRITE_CHUNK_LIMIT = 1 << 20;

function sameFile(sidecar: Sidecar, file: HubFile): boolean {
  return sidecar.size === file.size && sidecar.sha256 === file.sha256 && sidecar.gitOid === file.gitOid;
}

function readSidecar(path: string): Sidecar | undefined {
  try {
    return Sidecar.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

function writeSidecar(path: string, sidecar: Sidecar): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(sidecar));
  renameSync(tmp, path);
}

/** The hash a file is checked with, fed with git's blob header for files stored in Git. */
function newHash(file: HubFile): Hash {
  if (file.sha256) return createHash('sha256');
  return createHash('sha1').update(`blob ${file.size}\0`);
}

function expectedDigest(file: HubFile): string {
  return file.sha256 ?? file.gitOid ?? '';
}

/** A strong ETag, usable in If-Range (RFC 9110 §13.1.5 forbids weak ones there). */
function strongEtag(value: string | undefined): string | undefined {
  return value && !value.startsWith('W/') ? value : undefined;
}

/** Parses `Content-Range: bytes start-end/total`. */
function contentRange(value: string | undefined): { start: number; total?: number } | undefined {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

/** A failure worth another attempt: the connection dropped, or the server had a moment. */
function isTransient(error: unknown): boolean {
  return error instanceof HubError && (error.reason === 'network' || error.reason === 'server');
}

async function hashPrefix(path: string, length: number, hash: Hash): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(length, 8 * 1024 * 1024) || 1);
    for (let at = 0; at < length;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.byteLength, length - at), at);
      if (bytesRead === 0) throw new EngineError('internal', `${path} shrank while it was hashed`);
      hash.update(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Downloads `request.url` to `request.dest`, resuming a `.partial` left by an earlier attempt, and
 * verifies it. Aborting keeps the partial file for a later resume and throws EngineError('cancelled').
 */
export async function downloadFile(request: DownloadRequest): Promise<DownloadOutcome> {
  const { file, dest, connection, signal } = request;
  const partial = `${dest}${PARTIAL_SUFFIX}`;
  const sidecarPath = `${partial}.json`;
  const what = `downloading ${file.path}`;
  const retries = request.retries ?? 4;
  const delay = request.retryDelayMs ?? ((attempt: number) => Math.min(30_000, 1000 * 2 ** (attempt - 1)));

  let sidecar = readSidecar(sidecarPath);
  if (!sidecar || !sameFile(sidecar, file) || !existsSync(partial)) {
    rmSync(partial, { force: true });
    sidecar = { size: file.size, ...(file.sha256 ? { sha256: file.sha256 } : {}), ...(file.gitOid ? { gitOid: file.gitOid } : {}) };
  }
  const onDisk = () => (existsSync(partial) ? statSync(partial).size : 0);
  if (onDisk() > file.size) rmSync(partial, { force: true });
  const resumedFrom = onDisk();
  writeSidecar(sidecarPath, sidecar);

  let hash = newHash(file);
  let hashed = 0;
  let restartsFromZero = 0;
  let retried = 0;
  let commit: string | undefined;
  const restart = (): void => {
    rmSync(partial, { force: true });
    hash = newHash(file);
    hashed = 0;
    restartsFromZero++;
    request.onProgress?.(0);
  };

  for (let attempt = 0; ; attempt++) {
    try {
      signal?.throwIfAborted();
      let offset = onDisk();
      if (offset !== hashed) {
        hash = newHash(file);
        await hashPrefix(partial, offset, hash);
        hashed = offset;
      }
      if (offset === file.size) break;
      const headers: Record<string, string> = {};
      if (offset > 0) {
        headers.range = `bytes=${offset}-`;
        if (sidecar.etag) headers['if-range'] = sidecar.etag;
      }
      const res = await hubGet(request.url, connection, { headers, signal });
      commit ??= header(res.headers, 'x-repo-commit');
      if (res.status === 416) {
        res.body.resume();
        if (offset === 0) throw new HubError('refused', 'bad_response', `${new URL(res.url).host} answered 416 to a request for all of ${file.path}`);
        restart();
        continue;
      }
      if (res.status !== 200 && res.status !== 206) {
        res.body.resume();
        throw statusError(res.status, res.headers, file.path, connection);
      }
      if (res.status === 206) {
        const range = contentRange(header(res.headers, 'content-range'));
        if (!range || range.start !== offset || (range.total !== undefined && range.total !== file.size)) {
          res.body.destroy();
          if (offset === 0) throw new HubError('refused', 'bad_response', `${new URL(res.url).host} sent a range of ${file.path} that is not the one asked for`);
          restart();
          continue;
        }
      } else {
        // 200: the whole file again, whether the server ignores Range or the ETag changed.
        if (offset > 0) restart();
        offset = 0;
        const length = header(res.headers, 'content-length');
        if (length !== undefined && Number(length) !== file.size) {
          res.body.destroy();
          throw new HubError('refused', 'bad_response', `${file.path} is ${length} bytes on the server but ${file.size} in the repository's listing: it changed while downloading; try again`);
        }
      }
      const etag = strongEtag(header(res.headers, 'etag'));
      if (etag !== sidecar.etag) {
        sidecar = { ...sidecar, ...(etag ? { etag } : {}) };
        if (!etag) delete (sidecar as { etag?: string }).etag;
        writeSidecar(sidecarPath, sidecar);
      }
      const received = await writeBody(res, partial, offset, file, hash, signal, (done) => {
        hashed = done;
        request.onProgress?.(done);
      });
      if (received < file.size) throw new HubError('refused', 'network', `the connection closed after ${received} of ${file.size} bytes of ${file.path}`);
      break;
    } catch (error) {
      if (signal?.aborted) throw new EngineError('cancelled', `${what} was cancelled; the partial file is kept, so the same command resumes it`, { cause: error });
      const disk = diskWriteError(error, dirname(dest), what);
      if (disk) throw disk;
      if (!isTransient(error) || attempt >= retries) {
        if (isTransient(error)) {
          throw new HubError('refused', (error as HubError).reason, `${(error as Error).message} (gave up after ${attempt + 1} attempts; the partial file is kept, so the same command resumes it)`, { cause: error });
        }
        throw error;
      }
      retried++;
      await sleep(delay(attempt + 1), undefined, { signal }).catch(() => undefined);
    }
  }

  const digest = hash.digest('hex');
  if (digest !== expectedDigest(file)) {
    rmSync(partial, { force: true });
    rmSync(sidecarPath, { force: true });
    const kind = file.sha256 ? 'sha256' : 'git blob id';
    throw new HubError('bad_input', 'hash_mismatch', `${file.path}: the downloaded bytes have ${kind} ${digest}, but the repository lists ${expectedDigest(file)}; `
      + 'the download was damaged or the server sent another file. It was deleted; try again');
  }
  try {
    const handle = await open(partial, 'r+');
    await handle.sync().finally(() => handle.close());
    renameSync(partial, dest);
    rmSync(sidecarPath, { force: true });
  } catch (error) {
    throw diskWriteError(error, dirname(dest), what) ?? error;
  }
  return { resumedFrom, restartsFromZero, retried, ...(commit ? { commit } : {}) };
}

/** Streams the body into `partial` from `offset`; returns the bytes the file holds afterwards. */
async function writeBody(
  res: Awaited<ReturnType<typeof hubGet>>, partial: string, offset: number, file: HubFile, hash: Hash, signal: AbortSignal | undefined,
  onWritten: (done: number) => void,
): Promise<number> {
  let handle: FileHandle;
  try {
    handle = await open(partial, offset === 0 ? 'w' : 'r+');
  } catch (error) {
    res.body.destroy();
    throw error;
  }
  let at = offset;
  let writeFailure: unknown;
  try {
    for await (const chunk of res.body) {
      signal?.throwIfAborted();
      const bytes = chunk as Buffer;
      if (at + bytes.byteLength > file.size) {
        res.body.destroy();
        await handle.close();
        rmSync(partial, { force: true });
        throw new HubError('refused', 'bad_response', `the server sent more than the ${file.size} bytes the listing gives ${file.path}; the partial file was deleted`);
      }
      for (let done = 0; done < bytes.byteLength;) {
        const piece = bytes.subarray(done, done + WRITE_CHUNK_LIMIT);
        let bytesWritten: number;
        try {
          ({ bytesWritten } = await handle.write(piece, 0, piece.byteLength, at));
        } catch (error) {
          writeFailure = error;
          res.body.destroy();
          throw error;
        }
        hash.update(piece.subarray(0, bytesWritten));
        at += bytesWritten;
        done += bytesWritten;
      }
      onWritten(at);
    }
  } catch (error) {
    if (error instanceof HubError || error === writeFailure || signal?.aborted) throw error;
    // The connection dropped mid-body (ECONNRESET, "aborted", a stall timeout): what was written stays.
    throw new HubError('refused', 'network', `the connection broke after ${at} of ${file.size} bytes of ${file.path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
  } finally {
    await handle.close().catch(() => undefined);
  }
  return at;
}
