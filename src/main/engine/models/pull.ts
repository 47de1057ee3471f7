/**
 * `inkwell models pull`: a GPT-2 repository from the Hugging Face Hub into the
 * store, or bert-base-uncased's tokenizer files into <home>/tokenizers/.
 * Only the files a model needs are fetched (config.json, the safetensors
 * weights and their index when sharded, tokenizer.json or vocab.json +
 * merges.txt, tokenizer_config.json and generation_config.json when present),
 * into <home>/downloads/models--owner--name/ where an interrupted pull resumes.
 * Each file is verified before use, and the finished folder goes through the
 * same import as a local one (validation, NaN scan, graph build) with its
 * files hard-linked, so nothing is stored twice and nothing half-downloaded
 * ever looks installed.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from '../checkpoint';
import { parseGpt2Config, readJsonFile, readTextFile, MAX_SETTINGS_FILE_BYTES } from '../checkpoint/config';
import { describeValue } from '../checkpoint/files';
import { EngineError } from '../types';
import { catalogEntry, type CatalogTokenizer } from './catalog';
import { diskWriteError, ensureDiskSpace } from './disk';
import { downloadFile, PARTIAL_SUFFIX } from './hub-download';
import { hubConnectionFromEnv, type HubConnection } from './hub-http';
import { checkRepoId, listRepoFiles, resolveUrl, type HubFile } from './hub-repo';
import type { ImportProgress, ModelStore, StoredModel } from './store';
import { TransferMeter } from './transfer-meter';

/** What a pull is doing, for a progress bar. */
export interface PullProgress {
  readonly phase: 'listing' | 'downloading' | 'importing';
  /** The file being downloaded. */
  readonly file?: string;
  /** Over all files of the pull (downloading), or of the import step (importing). */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly bytesPerSecond: number;
  readonly secondsLeft?: number;
  /** The import's own step while importing. */
  readonly importPhase?: ImportProgress['phase'];
}

/** Options of a pull. */
export interface PullOptions {
  /** Store id of a pulled model; default the catalog alias, else the repository's name. */
  readonly id?: string;
  /** Default: HF_ENDPOINT and HF_TOKEN from the environment. */
  readonly connection?: HubConnection;
  /** Aborting stops at once; the downloaded part is kept and the same pull resumes it. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: PullProgress) => void;
  /** Retries of a dropped transfer per file (default 4), and the wait before each. */
  readonly retries?: number;
  readonly retryDelayMs?: (attempt: number) => number;
}

/** What a pull installed. */
export type PullResult =
  | { readonly kind: 'model'; readonly repo: string; readonly model: StoredModel; readonly downloadedBytes: number; readonly resumedBytes: number }
  | { readonly kind: 'tokenizer'; readonly repo: string; readonly alias: string; readonly dir: string; readonly files: readonly string[] };

/**
 * What `nameOrAlias` names: a catalog alias (gpt2, gpt2-large, bert-base-uncased, …), an owner/name
 * repository, or a repository's page URL as copied from the browser (https://huggingface.co/owner/name).
 */
export function resolvePullTarget(nameOrAlias: string): { kind: 'model'; repo: string; defaultId: string } | { kind: 'tokenizer'; entry: CatalogTokenizer } {
  const page = /^https?:\/\/[^/]+\/([^/?#]+(?:\/[^/?#]+)?)\/?$/.exec(nameOrAlias.trim())?.[1];
  if (page !== undefined) return resolvePullTarget(page);
  const entry = catalogEntry(nameOrAlias);
  if (entry?.kind === 'tokenizer') return { kind: 'tokenizer', entry };
  if (entry) return { kind: 'model', repo: entry.repo, defaultId: entry.alias };
  checkRepoId(nameOrAlias);
  return { kind: 'model', repo: nameOrAlias, defaultId: nameOrAlias.split('/').pop() ?? nameOrAlias };
}

const PICKLE_WEIGHTS = /\.(bin|pt|pth|ckpt|pkl)$/i;
const OPTIONAL_FILES = ['tokenizer_config.json', 'generation_config.json'] as const;
/** Room kept free beyond the downloaded files (metadata, graphs, the file system's own needs). */
const PULL_MARGIN_BYTES = 64 * 1024 * 1024;
/** Progress callbacks come at most this often, plus one at each file's end. */
const PROGRESS_INTERVAL_MS = 100;

function conversionHint(repo: string): string {
  return `python -c "from transformers import GPT2LMHeadModel as M, AutoTokenizer as T; `
    + `M.from_pretrained('${repo}').save_pretrained('OUT', safe_serialization=True); T.from_pretrained('${repo}').save_pretrained('OUT')"`
    + ', then: inkwell models import OUT --id <id>';
}

/** The top-level files a GPT-2 checkpoint needs from `files` (the shards of a sharded one come after its index is read). */
export function selectCheckpointFiles(files: readonly HubFile[], repo: string): HubFile[] {
  const byPath = new Map(files.filter((f) => !f.path.includes('/')).map((f) => [f.path, f]));
  const pick = (path: string) => byPath.get(path);
  const config = pick('config.json');
  if (!config) throw new EngineError('refused', `${repo} has no config.json: not a transformers model repository`);
  const weights = pick(WEIGHTS_FILE) ?? pick(WEIGHTS_INDEX_FILE);
  if (!weights) {
    const pickle = [...byPath.keys()].find((p) => PICKLE_WEIGHTS.test(p));
    if (pickle) {
      throw new EngineError('refused', `${repo} has only PyTorch pickle weights (${pickle}), which Inkwell refuses because loading a pickle can run `
        + `arbitrary code, and no ${WEIGHTS_FILE}. Convert it to safetensors: ${conversionHint(repo)}`);
    }
    throw new EngineError('not_found', `${repo} has no ${WEIGHTS_FILE} (nor ${WEIGHTS_INDEX_FILE})`);
  }
  const tokenizer = pick('tokenizer.json') ? [pick('tokenizer.json')] : [pick('vocab.json'), pick('merges.txt')];
  if (tokenizer.some((f) => f === undefined)) {
    throw new EngineError('refused', `${repo} has no GPT-2 tokenizer files (tokenizer.json, or vocab.json + merges.txt)`);
  }
  const optional = OPTIONAL_FILES.map(pick).filter((f): f is HubFile => f !== undefined);
  return [config, weights, ...(tokenizer as HubFile[]), ...optional];
}

/** The shards an index names, each a .safetensors file listed at the top of the repository. */
async function shardFiles(indexPath: string, files: readonly HubFile[], repo: string): Promise<HubFile[]> {
  const index = await readJsonFile(indexPath);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new EngineError('bad_input', `${repo}: ${WEIGHTS_INDEX_FILE} has no weight_map object`);
  }
  const names = new Set<string>();
  for (const shard of Object.values(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard !== basename(shard) || shard.startsWith('.') || !shard.endsWith('.safetensors')) {
      throw new EngineError('bad_input', `${repo}: ${WEIGHTS_INDEX_FILE} names ${describeValue(shard)}, not a .safetensors file beside it`);
    }
    names.add(shard);
  }
  return [...names].sort().map((name) => {
    const file = files.find((f) => f.path === name);
    if (!file) throw new EngineError('bad_input', `${repo}: ${WEIGHTS_INDEX_FILE} names ${name}, which the repository does not have`);
    return file;
  });
}

/** The download folder of `repo` (the HF cache's folder naming, under <home>/downloads). */
export function downloadDir(home: string, repo: string): string {
  return join(home, 'downloads', `models--${repo.split('/').join('--')}`);
}

/** Holds <dir>/.lock for this process; a lock whose process is gone is taken over. */
function lockDownload(dir: string, repo: string): () => void {
  const lock = join(dir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new EngineError('refused', `${repo} is already being downloaded by process ${pid}; wait for it to finish`);
      }
      rmSync(lock, { force: true });
    }
  }
  throw new EngineError('internal', `cannot take the download lock ${lock}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Bytes of `file` already in `dir`: a finished file, or the part downloaded so far. */
function bytesOnDisk(dir: string, file: HubFile): number {
  const partial = join(dir, `${file.path}${PARTIAL_SUFFIX}`);
  if (existsSync(join(dir, file.path)) && existsSync(`${join(dir, file.path)}.done.json`)) return file.size;
  return existsSync(partial) ? Math.min(statSync(partial).size, file.size) : 0;
}

/** Downloads `files` into `dir` (skipping those finished in an earlier run), reporting progress as the sum of `done` out of `total`. */
async function downloadAll(
  dir: string, repo: string, files: readonly HubFile[], connection: HubConnection, options: PullOptions, done: Map<string, number>, total: number,
): Promise<{ commit?: string }> {
  const meter = new TransferMeter(total, [...done.values()].reduce((a, b) => a + b, 0));
  let lastReport = 0;
  let commit: string | undefined;
  const report = (file: string, force: boolean) => {
    const now = performance.now();
    if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
    lastReport = now;
    const bytesDone = [...done.values()].reduce((a, b) => a + b, 0);
    options.onProgress?.({ phase: 'downloading', file, bytesDone, bytesTotal: total, ...meter.update(bytesDone) });
  };
  for (const file of files) {
    const dest = join(dir, file.path);
    const record = `${dest}.done.json`;
    if (existsSync(dest) && existsSync(record) && isRecordOf(record, file)) continue;
    rmSync(dest, { force: true });
    rmSync(record, { force: true });
    const outcome = await downloadFile({
      url: resolveUrl(connection, repo, file.path),
      file,
      dest,
      connection,
      signal: options.signal,
      retries: options.retries,
      retryDelayMs: options.retryDelayMs,
      onProgress: (bytes) => {
        done.set(file.path, bytes);
        report(file.path, false);
      },
    });
    writeFileSync(record, JSON.stringify({ size: file.size, sha256: file.sha256, gitOid: file.gitOid }));
    commit ??= outcome.commit;
    done.set(file.path, file.size);
    report(file.path, true);
  }
  return commit ? { commit } : {};
}

function isRecordOf(record: string, file: HubFile): boolean {
  try {
    const saved = JSON.parse(readFileSync(record, 'utf8')) as { size?: unknown; sha256?: unknown; gitOid?: unknown };
    return saved.size === file.size && saved.sha256 === file.sha256 && saved.gitOid === file.gitOid;
  } catch {
    return false;
  }
}

/** Bytes the import adds beside the downloaded files: a float32 copy of F16/BF16 weights (config's torch_dtype says which). */
function importExtraBytes(configJson: unknown, weightBytes: number): number {
  const dtype = (configJson as { torch_dtype?: unknown } | null)?.torch_dtype;
  return dtype === 'float16' || dtype === 'bfloat16' ? 2 * weightBytes : 0;
}

/**
 * Pulls `nameOrAlias` (a catalog alias such as gpt2 or gpt2-large, bert-base-uncased for its
 * tokenizer, or any owner/name GPT-2 repository) from the Hub into `store`.
 */
export async function pull(store: ModelStore, nameOrAlias: string, options: PullOptions = {}): Promise<PullResult> {
  const target = resolvePullTarget(nameOrAlias);
  const connection = options.connection ?? hubConnectionFromEnv();
  try {
    if (target.kind === 'tokenizer') return await pullTokenizer(store, target.entry, connection, options);
    return await pullModel(store, target.repo, options.id ?? target.defaultId, connection, options);
  } catch (error) {
    if (options.signal?.aborted && !(error instanceof EngineError && error.kind === 'cancelled')) {
      throw new EngineError('cancelled', `pulling ${nameOrAlias} was cancelled; what was downloaded is kept, so the same pull resumes it`, { cause: error });
    }
    throw error;
  }
}

async function pullModel(store: ModelStore, repo: string, id: string, connection: HubConnection, options: PullOptions): Promise<PullResult> {
  try {
    store.ensureIdFree(id);
  } catch (error) {
    if (options.id === undefined && error instanceof EngineError && error.message.startsWith('invalid model id')) {
      throw new EngineError('bad_input', `${repo}'s name does not make a valid model id; choose one with --id`, { cause: error });
    }
    throw error;
  }
  options.onProgress?.({ phase: 'listing', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 });
  const listing = await listRepoFiles(repo, connection, options.signal);
  let files = selectCheckpointFiles(listing, repo);
  const dir = downloadDir(store.home, repo);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw diskWriteError(error, dir, `downloading ${repo}`) ?? error;
  }
  const unlock = lockDownload(dir, repo);
  try {
    const done = new Map(files.map((f) => [f.path, bytesOnDisk(dir, f)]));
    let resumedBytes = [...done.values()].reduce((a, b) => a + b, 0);
    // config.json (and the shard index) first: a repository that is not GPT-2 is refused before gigabytes move.
    const small = files.filter((f) => f.path === 'config.json' || f.path === WEIGHTS_INDEX_FILE);
    const smallDone = new Map(small.map((f) => [f.path, done.get(f.path) ?? 0]));
    await downloadAll(dir, repo, small, connection, options, smallDone, small.reduce((s, f) => s + f.size, 0));
    for (const [path, bytes] of smallDone) done.set(path, bytes);
    const configJson = await readJsonFile(join(dir, 'config.json'), MAX_SETTINGS_FILE_BYTES);
    parseGpt2Config(configJson, `${repo}: config.json`);
    if (files.some((f) => f.path === WEIGHTS_INDEX_FILE)) {
      const shards = await shardFiles(join(dir, WEIGHTS_INDEX_FILE), listing, repo);
      files = [...files, ...shards];
      for (const shard of shards) {
        done.set(shard.path, bytesOnDisk(dir, shard));
        resumedBytes += done.get(shard.path) ?? 0;
      }
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    const onDisk = [...done.values()].reduce((a, b) => a + b, 0);
    const weightBytes = files.filter((f) => f.path.endsWith('.safetensors')).reduce((s, f) => s + f.size, 0);
    await ensureDiskSpace(dir, total - onDisk + importExtraBytes(configJson, weightBytes) + PULL_MARGIN_BYTES, `downloading ${repo}`, store.freeDiskBytes);
    // The small files before the weights, so that a resumed pull spends its time on the one large transfer.
    const rest = files.filter((f) => !small.includes(f)).sort((a, b) => a.size - b.size);
    const { commit } = await downloadAll(dir, repo, rest, connection, options, done, total);
    const model = await store.import(dir, id, {
      transfer: 'link',
      origin: { kind: 'hub', repo, endpoint: connection.endpoint, ...(commit ? { revision: commit } : {}) },
      signal: options.signal,
      onProgress: (p) => options.onProgress?.({ phase: 'importing', importPhase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: 0 }),
    }).catch((error: unknown) => {
      // A checkpoint that fails validation would fail again: do not keep it for a resume.
      if (error instanceof EngineError && error.kind === 'bad_input') rmSync(dir, { recursive: true, force: true });
      throw error;
    });
    rmSync(dir, { recursive: true, force: true });
    return { kind: 'model', repo, model, downloadedBytes: total - resumedBytes, resumedBytes };
  } finally {
    if (existsSync(dir)) unlock();
  }
}

/** The folder a pulled tokenizer lives in. */
export function tokenizerDir(home: string, alias: string): string {
  return join(home, 'tokenizers', alias);
}

/** Metadata written beside pulled tokenizer files. */
export const TOKENIZER_META_FILE = 'inkwell-tokenizer.json';

async function pullTokenizer(store: ModelStore, entry: CatalogTokenizer, connection: HubConnection, options: PullOptions): Promise<PullResult> {
  options.onProgress?.({ phase: 'listing', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0 });
  const listing = await listRepoFiles(entry.repo, connection, options.signal);
  const files = entry.files.flatMap(({ path, optional }) => {
    const file = listing.find((f) => f.path === path);
    if (!file && !optional) throw new EngineError('refused', `${entry.repo} has no ${path}`);
    return file ? [file] : [];
  });
  const dir = downloadDir(store.home, entry.repo);
  const tokenizers = join(store.home, 'tokenizers');
  try {
    mkdirSync(dir, { recursive: true });
    mkdirSync(tokenizers, { recursive: true });
  } catch (error) {
    throw diskWriteError(error, tokenizers, `downloading ${entry.repo}`) ?? error;
  }
  const unlock = lockDownload(dir, entry.repo);
  try {
    const done = new Map(files.map((f) => [f.path, bytesOnDisk(dir, f)]));
    const total = files.reduce((s, f) => s + f.size, 0);
    await ensureDiskSpace(tokenizers, total + PULL_MARGIN_BYTES, `downloading ${entry.repo}`, store.freeDiskBytes);
    await downloadAll(dir, entry.repo, files, connection, options, done, total);
    const vocab = await readTextFile(join(dir, 'vocab.txt'));
    if (!vocab.split(/\r?\n/).includes('[UNK]')) throw new EngineError('bad_input', `${entry.repo}: vocab.txt has no [UNK] token; not a WordPiece vocabulary`);
    const target = tokenizerDir(store.home, entry.alias);
    const tmp = mkdtempSync(join(tokenizers, '.tmp-'));
    try {
      for (const file of files) renameSync(join(dir, file.path), join(tmp, file.path));
      writeFileSync(join(tmp, TOKENIZER_META_FILE), `${JSON.stringify({ repo: entry.repo, endpoint: connection.endpoint, files: files.map((f) => f.path), pulledAt: new Date().toISOString() }, null, 2)}\n`);
      // Replace an earlier pull only once the new files are complete.
      if (existsSync(target)) {
        const trash = join(tokenizers, `.trash-${basename(tmp).slice(5)}`);
        renameSync(target, trash);
        rmSync(trash, { recursive: true, force: true });
      }
      renameSync(tmp, target);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      throw diskWriteError(error, tokenizers, `storing ${entry.alias}`) ?? error;
    }
    rmSync(dir, { recursive: true, force: true });
    return { kind: 'tokenizer', repo: entry.repo, alias: entry.alias, dir: target, files: files.map((f) => f.path) };
  } finally {
    if (existsSync(dir)) unlock();
  }
}
