/**
 * A fake Hugging Face Hub on 127.0.0.1 in the Hub's URL layout, for tests of
 * downloads (unit, CLI and browser suites): `GET /api/models/{repo}/tree/main`
 * (paginated with a Link header like the Hub), `GET /{repo}/resolve/main/{path}`
 * with ETag, X-Repo-Commit, Range/If-Range and 206, private repositories that
 * need a bearer token, renamed repositories (a relative redirect), and LFS
 * files served from a second server on another port (a cross-origin redirect,
 * as the Hub's CDN). Faults are set per file: cut the connection after N
 * bytes, ignore Range, answer an error status, send damaged bytes, or stall.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

/** A repository: file path → content. Files ending in .safetensors, .bin or .h5 are stored as Git LFS (sha256 in the listing). */
export interface FakeRepo {
  readonly files: Readonly<Record<string, Buffer | string>>;
  /** Needs `Authorization: Bearer <token>` (401 otherwise, with X-Error-Code RepoNotFound as the Hub answers). */
  readonly private?: boolean;
}

/** A fault to inject when a file is requested. */
export interface FileFault {
  /** Send only this many body bytes, then destroy the connection. */
  readonly cutAfterBytes?: number;
  /** Answer 200 with the whole file even to a Range request. */
  readonly ignoreRange?: boolean;
  /** Answer with this status (and no body). */
  readonly status?: number;
  /** Flip one byte of the content (the listing keeps the true hash). */
  readonly corrupt?: boolean;
  /** Send the headers, then nothing. */
  readonly stall?: boolean;
  /** How many requests the fault applies to (default: all). */
  readonly times?: number;
}

/** One request the fake Hub (or its CDN) received. */
export interface FakeHubRequest {
  readonly server: 'hub' | 'cdn';
  readonly path: string;
  readonly range?: string;
  readonly ifRange?: string;
  readonly authorization?: string;
  readonly status: number;
}

/** Options of the fake Hub. */
export interface FakeHubOptions {
  readonly repos: Readonly<Record<string, FakeRepo>>;
  /** The token private repositories accept. */
  readonly token?: string;
  /** Old name → current name: requests under the old name get a relative 307, like a renamed repository. */
  readonly renamed?: Readonly<Record<string, string>>;
  /** Serve LFS files from a second server (another origin) through a 302; default true. */
  readonly cdn?: boolean;
  /** Entries per page of the tree listing (default: all on one page). */
  readonly pageSize?: number;
}

/** A running fake Hub. */
export interface FakeHub {
  /** The endpoint, for HF_ENDPOINT. */
  readonly url: string;
  /** The CDN's origin (LFS files are redirected there). */
  readonly cdnUrl: string;
  readonly requests: FakeHubRequest[];
  /** Sets (or with undefined clears) the fault of `path` in `repo`. */
  fault(repo: string, path: string, fault: FileFault | undefined): void;
  /** Replaces or adds a repository. */
  setRepo(repo: string, files: FakeRepo): void;
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin|h5|msgpack|onnx)$/;

interface StoredFile {
  readonly content: Buffer;
  readonly sha256: string;
  readonly gitOid: string;
  readonly lfs: boolean;
}

/** The git blob id of `content`: sha1 of "blob <size>\0" + content. */
export function gitBlobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

/** Every file of a folder (such as a factory checkpoint) as a FakeRepo's files. */
export function repoFilesFromFolder(dir: string, only?: readonly string[]): Record<string, Buffer> {
  const names = (only ?? readdirSync(dir)).filter((name) => statSync(join(dir, name)).isFile());
  return Object.fromEntries(names.map((name) => [name, readFileSync(join(dir, name))]));
}

function storeFile(content: Buffer | string, path: string): StoredFile {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { content: bytes, sha256: createHash('sha256').update(bytes).digest('hex'), gitOid: gitBlobOid(bytes), lfs: LFS.test(path) };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** Starts a fake Hub (and its CDN) on 127.0.0.1. */
export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map<string, { private: boolean; files: Map<string, StoredFile> }>();
  const setRepo = (name: string, repo: FakeRepo) => {
    repos.set(name, { private: repo.private ?? false, files: new Map(Object.entries(repo.files).map(([p, c]) => [p, storeFile(c, p)])) });
  };
  for (const [name, repo] of Object.entries(options.repos)) setRepo(name, repo);
  const faults = new Map<string, { fault: FileFault; used: number }>();
  const requests: FakeHubRequest[] = [];
  const blobs = new Map<string, StoredFile>();
  const useCdn = options.cdn ?? true;
  const commitOf = (repo: string) => createHash('sha1').update(`commit:${repo}`).digest('hex');
  const sockets = new Set<Socket>();

  const log = (server: 'hub' | 'cdn', req: IncomingMessage, status: number) => {
    requests.push({
      server,
      path: req.url ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(typeof req.headers['if-range'] === 'string' ? { ifRange: req.headers['if-range'] } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      status,
    });
  };

  const takeFault = (key: string): FileFault | undefined => {
    const entry = faults.get(key);
    if (!entry) return undefined;
    if (entry.fault.times !== undefined && entry.used >= entry.fault.times) return undefined;
    entry.used++;
    return entry.fault;
  };

  const sendFile = (server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse, file: StoredFile, fault: FileFault | undefined, extra: Record<string, string>) => {
    if (fault?.status !== undefined) {
      log(server, req, fault.status);
      res.writeHead(fault.status, { 'content-length': '0' }).end();
      return;
    }
    let content = file.content;
    if (fault?.corrupt) {
      content = Buffer.from(content);
      const middle = Math.floor(content.byteLength / 2);
      content[middle] = (content[middle] ?? 0) ^ 0xff;
    }
    const etag = `"${file.lfs ? file.sha256 : file.gitOid}"`;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const honourRange = range !== null && !fault?.ignoreRange && (ifRange === undefined || ifRange === etag);
    const start = honourRange ? Number(range[1]) : 0;
    const headers = { ...extra, etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (honourRange && start >= content.byteLength) {
      log(server, req, 416);
      res.writeHead(416, { ...headers, 'content-range': `bytes */${content.byteLength}` }).end();
      return;
    }
    const body = content.subarray(start);
    const status = honourRange ? 206 : 200;
    log(server, req, status);
    res.writeHead(status, {
      ...headers,
      'content-length': String(body.byteLength),
      ...(honourRange ? { 'content-range': `bytes ${start}-${content.byteLength - 1}/${content.byteLength}` } : {}),
    });
    if (fault?.stall) {
      res.flushHeaders();
      return;
    }
    if (fault?.cutAfterBytes !== undefined) {
      // A graceful close after the bytes: the client gets exactly cutAfterBytes, then a premature end.
      res.write(body.subarray(0, fault.cutAfterBytes), () => res.socket?.end());
      return;
    }
    res.end(body);
  };

  const notFound = (server: 'hub' | 'cdn', req: IncomingMessage, res: ServerResponse, code: string, message: string) => {
    log(server, req, 404);
    res.writeHead(404, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'application/json' }).end(JSON.stringify({ error: message }));
  };

  const hub = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = decodeURIComponent(url.pathname);
    const tree = /^\/api\/models\/(.+)\/tree\/main\/?$/.exec(path);
    const resolve = /^\/([^/]+(?:\/[^/]+)?)\/resolve\/main\/(.+)$/.exec(path);
    const repoName = tree?.[1] ?? resolve?.[1];
    if (repoName === undefined) return notFound('hub', req, res, 'EntryNotFound', 'no such route');
    const current = options.renamed?.[repoName];
    if (current !== undefined) {
      log('hub', req, 307);
      res.writeHead(307, { location: (req.url ?? '').replace(repoName, current) }).end();
      return;
    }
    const repo = repos.get(repoName);
    if (!repo) return notFound('hub', req, res, 'RepoNotFound', 'Repository not found');
    if (repo.private) {
      const auth = req.headers.authorization;
      if (auth !== `Bearer ${options.token}`) {
        log('hub', req, 401);
        const message = auth ? 'Invalid credentials in Authorization header' : 'Repository not found';
        res.writeHead(401, { 'x-error-code': auth ? 'InvalidCredentials' : 'RepoNotFound', 'x-error-message': message }).end();
        return;
      }
    }
    if (tree) {
      const entries = [...repo.files].map(([p, f]) => ({
        type: 'file',
        oid: f.lfs ? gitBlobOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.content.byteLength}\n`)) : f.gitOid,
        size: f.content.byteLength,
        path: p,
        ...(f.lfs ? { lfs: { oid: f.sha256, size: f.content.byteLength, pointerSize: 134 } } : {}),
      }));
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const size = options.pageSize ?? entries.length;
      const page = entries.slice(cursor, cursor + size);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (cursor + size < entries.length) headers.link = `<${url.pathname}?cursor=${cursor + size}>; rel="next"`;
      log('hub', req, 200);
      res.writeHead(200, headers).end(JSON.stringify(page));
      return;
    }
    const filePath = resolve?.[2] ?? '';
    const file = repo.files.get(filePath);
    if (!file) return notFound('hub', req, res, 'EntryNotFound', `${filePath} does not exist on "main"`);
    const fault = takeFault(`${repoName}/${filePath}`);
    const extra = { 'x-repo-commit': commitOf(repoName) };
    if (file.lfs && useCdn && fault?.status === undefined) {
      blobs.set(file.sha256, file);
      // The fault travels with the redirect: the CDN applies it to the bytes.
      if (fault) faults.set(`cdn:${file.sha256}`, { fault: { ...fault, times: 1 }, used: 0 });
      else faults.delete(`cdn:${file.sha256}`);
      log('hub', req, 302);
      res.writeHead(302, { ...extra, location: `${cdnUrl}/blobs/${file.sha256}?signature=fake` }).end();
      return;
    }
    sendFile('hub', req, res, file, fault, extra);
  });

  const cdn = createServer((req, res) => {
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://cdn').pathname)?.[1];
    const file = sha === undefined ? undefined : blobs.get(sha);
    if (!file || sha === undefined) return notFound('cdn', req, res, 'NoSuchKey', 'no such blob');
    sendFile('cdn', req, res, file, takeFault(`cdn:${sha}`), {});
  });

  for (const server of [hub, cdn]) {
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  }
  const url = await listen(hub);
  const cdnUrl = await listen(cdn);
  return {
    url,
    cdnUrl,
    requests,
    fault(repo, path, fault) {
      if (fault) faults.set(`${repo}/${path}`, { fault, used: 0 });
      else faults.delete(`${repo}/${path}`);
    },
    setRepo,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([hub, cdn].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
