/**
 * The local Hugging Face cache, where `pipeline('text-generation',
 * model='gpt2')` and `huggingface-cli download` leave models: lists what is
 * there (GPT-2 checkpoints importable, everything else with the reason it is
 * not) and imports a snapshot by hard-linking its blobs into the store, so the
 * weights are not copied. Layout (huggingface_hub's cache): <cache>/
 * models--owner--name/{refs/main, snapshots/<commit>/<file> → ../../blobs/<hash>}.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from '../checkpoint';
import { MAX_SETTINGS_FILE_BYTES, parseGpt2Config, readJsonFile } from '../checkpoint/config';
import { describeValue } from '../checkpoint/files';
import { EngineError, type Gpt2Config } from '../types';
import { catalogEntryForRepo } from './catalog';
import { parameterCount } from './footprint';
import type { ImportProgress, ModelStore, StoredModel } from './store';

/** One repository in the cache (its newest snapshot, or the one refs/main names). */
export interface CachedRepo {
  /** "owner/name", or "name" for the Hub's old top-level repositories. */
  readonly repo: string;
  /** Commit of the snapshot described. */
  readonly revision: string;
  /** Refs (branches, tags) pointing at that commit. */
  readonly refs: readonly string[];
  readonly snapshotDir: string;
  /** File names at the top of the snapshot. */
  readonly files: readonly string[];
  /** Bytes of those files (through their symlinks). */
  readonly sizeBytes: number;
  /** True when Inkwell can import it as a GPT-2 model. */
  readonly importable: boolean;
  /** Why it cannot be imported (set when importable is false). */
  readonly reason?: string;
  /** The GPT-2 configuration, when config.json is one. */
  readonly config?: Gpt2Config;
  readonly parameters?: number;
  /** Ids of stored models imported from this snapshot. */
  readonly importedAs: readonly string[];
}

/** The cache folder and what it holds. */
export interface HfCacheListing {
  readonly cacheDir: string;
  /** False when the folder does not exist (nothing was ever downloaded with huggingface_hub). */
  readonly exists: boolean;
  readonly repos: readonly CachedRepo[];
}

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/**
 * The cache folder as huggingface_hub finds it (constants.py): $HF_HUB_CACHE (or the older
 * $HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub; "~" is expanded as it does.
 */
export function hfHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return resolve(expandHome(explicit));
  if (env.HF_HOME) return resolve(expandHome(env.HF_HOME), 'hub');
  const xdg = env.XDG_CACHE_HOME && isAbsolute(expandHome(env.XDG_CACHE_HOME)) ? expandHome(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(xdg, 'huggingface', 'hub');
}

/** "models--owner--name" → "owner/name" (repository names cannot contain "--", so the split is exact). */
function repoOfFolder(folder: string): string | undefined {
  if (!folder.startsWith('models--')) return undefined;
  const parts = folder.slice('models--'.length).split('--');
  return parts.length === 1 || parts.length === 2 ? parts.join('/') : undefined;
}

function listNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** refs/<name> → commit, for every ref file (nested refs such as refs/pr/1 included). */
function readRefs(repoDir: string): Map<string, string> {
  const refs = new Map<string, string>();
  const walk = (dir: string, prefix: string) => {
    for (const name of listNames(dir)) {
      const path = join(dir, name);
      try {
        if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
        else refs.set(`${prefix}${name}`, readFileSync(path, 'utf8').trim());
      } catch {
        // A ref being rewritten by huggingface_hub right now; the snapshot is still listed by date.
      }
    }
  };
  walk(join(repoDir, 'refs'), '');
  return refs;
}

/** The snapshot refs/main names, else the most recently written one. */
function chooseSnapshot(repoDir: string, refs: ReadonlyMap<string, string>): string | undefined {
  const snapshots = listNames(join(repoDir, 'snapshots'));
  const main = refs.get('main');
  if (main && snapshots.includes(main)) return main;
  let newest: { name: string; mtime: number } | undefined;
  for (const name of snapshots) {
    try {
      const mtime = statSync(join(repoDir, 'snapshots', name)).mtimeMs;
      if (!newest || mtime > newest.mtime) newest = { name, mtime };
    } catch {
      // Removed while listing.
    }
  }
  return newest?.name;
}

/** A regular file (through symlinks), and its size. */
function regularFileSize(path: string): number | undefined {
  try {
    const stats = statSync(path);
    return stats.isFile() ? stats.size : undefined;
  } catch {
    return undefined;
  }
}

const PICKLE_WEIGHTS = /\.(bin|pt|pth|ckpt|pkl)$/i;

/** Why the snapshot cannot be imported as GPT-2 (cheap checks: the import validates everything). */
async function importProblem(dir: string, files: ReadonlySet<string>, repoDir: string): Promise<{ reason?: string; config?: Gpt2Config }> {
  const incomplete = listNames(join(repoDir, 'blobs')).some((name) => name.endsWith('.incomplete'));
  const missing = (name: string) => regularFileSize(join(dir, name)) === undefined;
  if (!files.has('config.json')) return { reason: 'no config.json in the snapshot (not a transformers model, or only partly downloaded)' };
  if (missing('config.json')) return { reason: 'config.json points to a blob that is missing' };
  let config: Gpt2Config;
  try {
    const json = await readJsonFile(join(dir, 'config.json'), MAX_SETTINGS_FILE_BYTES);
    const type = (json as { model_type?: unknown } | null)?.model_type;
    if (type !== 'gpt2') return { reason: `not a GPT-2 model (model_type ${describeValue(type)})` };
    config = parseGpt2Config(json, 'config.json');
  } catch (error) {
    return { reason: error instanceof EngineError ? error.message : 'config.json cannot be read' };
  }
  const weights = files.has(WEIGHTS_FILE) ? WEIGHTS_FILE : files.has(WEIGHTS_INDEX_FILE) ? WEIGHTS_INDEX_FILE : undefined;
  if (!weights) {
    const pickle = [...files].find((f) => PICKLE_WEIGHTS.test(f));
    if (pickle) return { config, reason: `only PyTorch pickle weights (${pickle}), which Inkwell refuses; convert them to safetensors (see \`inkwell models import --help\`)` };
    return { config, reason: incomplete ? `${WEIGHTS_FILE} is still downloading (or the download was interrupted)` : `no ${WEIGHTS_FILE} in the snapshot` };
  }
  if (missing(weights)) return { config, reason: `${weights} points to a blob that is missing${incomplete ? ' (the download is incomplete)' : ''}` };
  const tokenizer = files.has('tokenizer.json') ? ['tokenizer.json'] : ['vocab.json', 'merges.txt'];
  const lacking = tokenizer.filter(missing);
  if (lacking.length > 0) return { config, reason: `no tokenizer files (tokenizer.json, or vocab.json + merges.txt; missing ${lacking.join(', ')})` };
  return { config };
}

async function describeRepo(cacheDir: string, folder: string, repo: string, store: ModelStore | undefined): Promise<CachedRepo | undefined> {
  const repoDir = join(cacheDir, folder);
  const refs = readRefs(repoDir);
  const revision = chooseSnapshot(repoDir, refs);
  if (!revision) return undefined;
  const snapshotDir = join(repoDir, 'snapshots', revision);
  const files = listNames(snapshotDir).sort();
  const sizeBytes = files.reduce((sum, name) => sum + (regularFileSize(join(snapshotDir, name)) ?? 0), 0);
  const { reason, config } = await importProblem(snapshotDir, new Set(files), repoDir);
  const importedAs = (store?.list() ?? [])
    .filter((m) => m.origin.kind === 'hf-cache' && m.origin.repo === repo && m.origin.revision === revision)
    .map((m) => m.id);
  return {
    repo,
    revision,
    refs: [...refs].filter(([, commit]) => commit === revision).map(([name]) => name).sort(),
    snapshotDir,
    files,
    sizeBytes,
    importable: reason === undefined,
    ...(reason !== undefined ? { reason } : {}),
    ...(config ? { config, parameters: parameterCount(config) } : {}),
    importedAs,
  };
}

/** Lists the model repositories in the cache, sorted by name; `store` marks those already imported. */
export async function listHfCache(cacheDir: string, store?: ModelStore): Promise<HfCacheListing> {
  const dir = resolve(cacheDir);
  if (!existsSync(dir)) return { cacheDir: dir, exists: false, repos: [] };
  const repos: CachedRepo[] = [];
  for (const folder of listNames(dir).sort()) {
    const repo = repoOfFolder(folder);
    if (repo === undefined) continue;
    const described = await describeRepo(dir, folder, repo, store);
    if (described) repos.push(described);
  }
  return { cacheDir: dir, exists: true, repos };
}

/**
 * The cached repository `nameOrAlias` names: that repository, or for a catalog model any of its
 * names (alias, current repository, the Hub's old top-level name), an importable snapshot first.
 */
export function findCachedRepo(listing: HfCacheListing, nameOrAlias: string): CachedRepo | undefined {
  const exact = listing.repos.find((r) => r.repo === nameOrAlias);
  if (exact?.importable) return exact;
  const alias = catalogEntryForRepo(nameOrAlias)?.alias;
  const same = alias === undefined ? [] : listing.repos.filter((r) => catalogEntryForRepo(r.repo)?.alias === alias);
  return same.find((r) => r.importable) ?? exact ?? same[0];
}

/** Options of importFromHfCache. */
export interface CacheImportOptions {
  /** Store id; default the catalog alias, else the repository's name. */
  readonly id?: string;
  readonly cacheDir: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
}

/** Imports the cached snapshot of `nameOrAlias` into `store`, hard-linking its blobs (copied only where the cache is on another disk). */
export async function importFromHfCache(store: ModelStore, nameOrAlias: string, options: CacheImportOptions): Promise<StoredModel> {
  const listing = await listHfCache(options.cacheDir);
  if (!listing.exists) throw new EngineError('not_found', `there is no Hugging Face cache at ${listing.cacheDir} (set HF_HUB_CACHE or HF_HOME if it is elsewhere)`);
  const cached = findCachedRepo(listing, nameOrAlias);
  if (!cached) {
    throw new EngineError('not_found', `${nameOrAlias} is not in the Hugging Face cache at ${listing.cacheDir} (see \`inkwell models cache\`)`);
  }
  if (!cached.importable) throw new EngineError('refused', `${cached.repo} in the Hugging Face cache cannot be imported: ${cached.reason ?? 'unknown reason'}`);
  const id = options.id ?? catalogEntryForRepo(cached.repo)?.alias ?? cached.repo.split('/').pop() ?? cached.repo;
  return store.import(cached.snapshotDir, id, {
    transfer: 'link',
    origin: { kind: 'hf-cache', repo: cached.repo, revision: cached.revision, path: cached.snapshotDir },
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}
