/**
 * The Batch page's part of the contract: a prompts file run row by row into a JSONL results
 * file by the back end (the same core as `inkwell batch`), its progress as a ServerEvent, and a
 * preview of the results. Pure zod: no Electron, Node or DOM.
 */
import { z } from 'zod';

/** What one batch may hold: more is refused at the start, with these numbers in the message. */
export const BATCH_LIMITS = {
  /** Bytes of a prompts file read from disk (CLI and app). */
  maxFileBytes: 64 * 1024 * 1024,
  /** Rows of a prompts file, bad ones included (CLI and app). */
  maxRows: 100_000,
  /** Characters of a prompts file uploaded from the browser (serve mode's request body is 12 MiB). */
  maxUploadChars: 8_000_000,
  /** Rows in flight at once from the app: a writer's own generation always finds room beside them. */
  maxConcurrency: 8,
  /** Bad rows a progress report lists (the count goes on). */
  maxListedBadRows: 200,
  /** Result rows one preview returns. */
  maxPreviewRows: 200,
  /** Bytes of a results file the app sends as a download. */
  maxDownloadBytes: 32 * 1024 * 1024,
  maxPathChars: 4096,
} as const;

const Path = z.string().trim().min(1, 'the path must not be empty').max(BATCH_LIMITS.maxPathChars);
const FileName = z.string().min(1).max(255);

/** Where the prompts come from: a file on the machine the back end runs on, or contents uploaded by the browser. */
export const BatchSource = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('path'), path: Path }),
  z.strictObject({
    kind: z.literal('upload'),
    /** The file's name: its extension gives the format (.txt, .jsonl, .csv). */
    name: FileName,
    content: z.string().max(BATCH_LIMITS.maxUploadChars, `an uploaded prompts file may hold at most ${BATCH_LIMITS.maxUploadChars} characters; give the file's path instead`),
  }),
]);
export type BatchSource = z.infer<typeof BatchSource>;

/** A row that was skipped, and why. */
export const BatchBadRow = z.strictObject({ line: z.int().min(1), message: z.string() });
export type BatchBadRow = z.infer<typeof BatchBadRow>;

/** A batch as the Batch page shows it; sent on the `batch` channel whenever it moves. */
export const BatchState = z.strictObject({
  batchId: z.string(),
  status: z.enum(['running', 'done', 'cancelled', 'error']),
  modelId: z.string(),
  precision: z.string(),
  /** The prompts file's name (a path's base name, or the uploaded file's name). */
  promptsName: z.string(),
  /** The results file, on the machine the back end runs on. */
  outPath: z.string(),
  /** Rows this run will write (rows already in the results file not counted). */
  total: z.int().min(0),
  done: z.int().min(0),
  /** Rows the results file already held when this run started (a resume). */
  alreadyDone: z.int().min(0),
  /** Bad rows so far: those of the file, then those that failed at run time. */
  skipped: z.int().min(0),
  badRows: z.array(BatchBadRow).max(BATCH_LIMITS.maxListedBadRows),
  tokens: z.int().min(0),
  tokensPerSecond: z.number().min(0),
  /** Estimated from the rows done so far; absent before the first one. */
  secondsLeft: z.number().min(0).optional(),
  concurrency: z.int().min(1),
  startedAt: z.string(),
  /** Set when status is 'error'. */
  error: z.string().optional(),
});
export type BatchState = z.infer<typeof BatchState>;

/** One result row as the preview shows it. */
export const BatchResultRow = z.strictObject({
  index: z.int().min(0),
  line: z.int().min(1),
  prompt: z.string(),
  seed: z.int().min(0),
  texts: z.array(z.string()),
  finishReasons: z.array(z.string()),
});
export type BatchResultRow = z.infer<typeof BatchResultRow>;

/** The first rows of a results file (in row order) and how many it holds. */
export const BatchPreview = z.strictObject({
  path: z.string(),
  rows: z.array(BatchResultRow),
  totalRows: z.int().min(0),
  bytes: z.int().min(0),
});
export type BatchPreview = z.infer<typeof BatchPreview>;
