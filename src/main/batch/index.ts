/**
 * The batch core: prompts files in, results files out, rows run through a caller's generator.
 * `inkwell batch` (src/main/cli) and the Batch page (src/main/api/batch-handlers.ts) both use it,
 * so both read the same formats, give rows the same seeds and resume by the same rule.
 */
export { BadRowError, BatchFileError, OutputExistsError, type BatchSubject } from './errors';
export { assertRowLimit, decodePromptsText, parsePrompts, promptsFormat, readPromptsFile, rowParams, type BadRow, type BatchRow, type PromptsFormat } from './input';
export { BatchWriter, readFinishedRows, readResultPreview, type FinishedRows } from './output';
export { batchLine, outcomeJson, round6 } from './result-json';
export { BatchProgress, prepareBatch, runBatch, type BatchLineSink, type BatchRunSummary, type PreparedBatch, type RunBatchOptions } from './run';
