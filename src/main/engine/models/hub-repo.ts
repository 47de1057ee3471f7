/**
 * A Hub model repository: its id, the file list with sizes and hashes
 * (`GET {endpoint}/api/models/{repo}/tree/main`) and the URL of each file
 * (`{endpoint}/{repo}/resolve/main/{path}`).
 */
import { z } from 'zod';
import { EngineError } from '../types';
import { header, HubError, hubGet, readBody, statusError, type HubConnection } from './hub-http';

/** The branch Inkwell downloads. */
export const HUB_REVISION = 'main';

/** A file of a repository, as the tree listing describes it. */
export interface HubFile {
  readonly path: string;
  readonly size: number;
  /** sha256 of the content, for files stored with Git LFS (the weights). */
  readonly sha256?: string;
  /** Git blob id (sha1 of "blob <size>\0" + content) of a file stored in Git itself. */
  readonly gitOid?: string;
}

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

const TreeEntry = z.object({
  type: z.string(),
  path: z.string().min(1).max(1000),
  size: z.number().int().nonnegative(),
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: z.number().int().nonnegative() }).optional(),
});
const TreePage = z.array(TreeEntry).max(100_000);

/** The tree listing is paginated beyond ~1000 entries; more pages than this is not a model repository. */
const MAX_PAGES = 50;
const MAX_PAGE_BYTES = 32 * 1024 * 1024;

/**
 * Throws EngineError('bad_input') unless `repo` is a Hub repository id: "name" or "owner/name" of
 * letters, digits, "-", "_" and ".", each part at most 96 characters, without "--" or ".."
 * (huggingface_hub's validate_repo_id).
 */
export function checkRepoId(repo: string): void {
  const part = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$/;
  const parts = repo.split('/');
  if (parts.length > 2 || !parts.every((p) => part.test(p)) || repo.includes('--') || repo.includes('..') || repo.endsWith('.git')) {
    throw new EngineError('bad_input', `${JSON.stringify(repo.slice(0, 200))} is not a Hugging Face repository id (owner/name, e.g. openai-community/gpt2)`);
  }
}

/** The URL of `path` in `repo` at main. */
export function resolveUrl(connection: HubConnection, repo: string, path: string): string {
  return `${connection.endpoint}/${repo}/resolve/${HUB_REVISION}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

function nextPage(linkHeader: string | undefined, current: string): string | undefined {
  if (!linkHeader) return undefined;
  for (const part of linkHeader.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match?.[1]) return new URL(match[1], current).toString();
  }
  return undefined;
}

function toHubFile(entry: z.infer<typeof TreeEntry>, repo: string): HubFile {
  if (entry.lfs) {
    const sha256 = entry.lfs.oid.replace(/^sha256:/, '');
    if (!HEX64.test(sha256)) throw new HubError('refused', 'bad_response', `the tree listing of ${repo} gives ${entry.path} an LFS id that is not a sha256`);
    return { path: entry.path, size: entry.lfs.size, sha256 };
  }
  if (entry.oid === undefined || !HEX40.test(entry.oid)) {
    throw new HubError('refused', 'bad_response', `the tree listing of ${repo} gives ${entry.path} no valid git blob id`);
  }
  return { path: entry.path, size: entry.size, gitOid: entry.oid };
}

/** The files at the top of `repo` (main), with sizes and hashes. */
export async function listRepoFiles(repo: string, connection: HubConnection, signal?: AbortSignal): Promise<HubFile[]> {
  checkRepoId(repo);
  const files: HubFile[] = [];
  let url: string | undefined = `${connection.endpoint}/api/models/${repo}/tree/${HUB_REVISION}`;
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_PAGES) throw new HubError('refused', 'bad_response', `the tree listing of ${repo} has more than ${MAX_PAGES} pages; not a GPT-2 repository`);
    const res = await hubGet(url, connection, { signal, headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      res.body.resume();
      throw statusError(res.status, res.headers, repo, connection);
    }
    const body = await readBody(res, MAX_PAGE_BYTES);
    let entries: z.infer<typeof TreePage>;
    try {
      entries = TreePage.parse(JSON.parse(body.toString('utf8')));
    } catch (error) {
      throw new HubError('refused', 'bad_response', `${new URL(res.url).host} sent a tree listing of ${repo} that is not the Hub's JSON`, { cause: error });
    }
    for (const entry of entries) if (entry.type === 'file') files.push(toHubFile(entry, repo));
    url = nextPage(header(res.headers, 'link'), res.url);
  }
  return files;
}
