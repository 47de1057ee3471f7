/** Formats history entries as a JSON or Markdown export file. */
import type { ExportFile, ExportFormat, HistoryEntry } from '../../shared/api';

/** Renders `entries` (already in export order) as a file named after `now`. */
export function formatExport(entries: readonly HistoryEntry[], format: ExportFormat, now: Date): ExportFile {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  if (format === 'json') {
    return { filename: `inkwell-history-${stamp}.json`, mimeType: 'application/json', content: `${JSON.stringify(entries, null, 2)}\n` };
  }
  return { filename: `inkwell-history-${stamp}.md`, mimeType: 'text/markdown', content: formatMarkdown(entries, now) };
}

function formatMarkdown(entries: readonly HistoryEntry[], now: Date): string {
  const parts = [`# Inkwell history\n\nExported ${now.toISOString()} · ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}\n`];
  for (const entry of entries) {
    const lines = [
      `## Entry ${entry.id}${entry.starred ? ' ★' : ''}`,
      '',
      `- Model: ${entry.modelId} (${entry.device})`,
      `- Date: ${entry.createdAt}`,
      `- Seed: ${entry.seed}`,
      `- Parameters: ${formatParams(entry.params)}`,
      `- Prompt tokens: ${entry.promptTokens}${entry.truncatedPromptTokens > 0 ? ` (${entry.truncatedPromptTokens} cut from the start)` : ''}`,
      `- Timings: load ${round(entry.timings.loadMs)} ms, prefill ${round(entry.timings.prefillMs)} ms, decode ${round(entry.timings.decodeMs)} ms, ${round(entry.timings.tokensPerSecond)} tokens/s`,
    ];
    if (entry.documentId !== null) lines.push(`- Document: ${entry.documentTitle ?? 'untitled'} (${entry.documentId})`);
    if (entry.memory) lines.push('', '### Memory', '', fenced(entry.memory));
    lines.push('', '### Prompt', '', fenced(entry.prompt));
    entry.candidates.forEach((candidate, index) => {
      const accepted = entry.acceptedIndex === index ? ' (accepted)' : '';
      lines.push('', `### Candidate ${index + 1}${accepted}`, '', `Finish: ${candidate.finishReason}`, '', fenced(candidate.text));
    });
    parts.push(lines.join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

function formatParams(params: HistoryEntry['params']): string {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} ${JSON.stringify(value)}`)
    .join(', ');
}

/** A code fence longer than any backtick run inside `text`, so generated text cannot close it early. */
function fenced(text: string): string {
  // A loop, not Math.max(...runs): a long text can hold more backtick runs than a call may take arguments.
  let longestRun = 0;
  for (const match of text.matchAll(/`+/g)) longestRun = Math.max(longestRun, match[0].length);
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}text\n${text}\n${fence}`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
