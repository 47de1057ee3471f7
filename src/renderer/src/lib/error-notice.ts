/**
 * What the notices area says about a failure, by its kind: the back end's own
 * words, with what the writer can do about it. A busy machine is a warning to
 * try again, not a failure; a read-only data folder or a full disk gets one
 * banner that says what cannot be saved (each replaces the last of its kind,
 * so a retrying autosave does not pile them up). The kind "internal" is never
 * shown as such: the message is.
 */
import { ApiError } from '../../../shared/api';

/** How a notice looks. */
export type NoticeTone = 'error' | 'warning' | 'info';

/** A notice to show; null for failures the user caused and needs no word about (a cancel). */
export interface ErrorNotice {
  tone: NoticeTone;
  message: string;
  /** Notices with the same key replace each other. */
  key?: string;
}

/** The key of the read-only / disk-full banner (a save that works again replaces it). */
export const storageNoticeKey = 'storage';
/** The key of the "Inkwell is busy" notice. */
export const busyNoticeKey = 'busy';
/** The key of the inference-crash notice. */
export const crashNoticeKey = 'engine-crash';

/** The message shown when the inference process dies and the back end gave no reason. */
export const engineCrashMessage = 'The inference process stopped; it restarts on the next request.';

/** True for a failure to write because the data is read-only or the disk is full. */
export function isStorageError(error: unknown): boolean {
  const kind = ApiError.from(error).kind;
  return kind === 'read_only' || kind === 'disk_full';
}

/** `text` as a sentence: a capital first letter and a full stop at the end. */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  const sentence = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/**
 * The crash notice: the back end's own account when it sent one (it already
 * says what happened and that the next request restarts the process), else the
 * generic message; never both, which said the same thing twice.
 */
export function crashNotice(detail: string | undefined): string {
  return detail?.trim() ? asSentence(detail) : engineCrashMessage;
}

/** The notice for `error`, which happened while doing `context` ("Could not start the generation"). */
export function noticeFor(error: unknown, context: string): ErrorNotice | null {
  const { kind, message } = ApiError.from(error);
  switch (kind) {
    case 'cancelled':
      return null;
    case 'engine_crashed':
      return { tone: 'error', message: crashNotice(message), key: crashNoticeKey };
    case 'busy': {
      // The server's words say how much is running; they start "Inkwell is busy" when it wrote them.
      const said = /^inkwell is busy/i.test(message) ? asSentence(message) : `Inkwell is busy: ${asSentence(message)}`;
      const advice = /try again/i.test(message) ? '' : ' Try again when a generation finishes.';
      return { tone: 'warning', message: `${said}${advice}`, key: busyNoticeKey };
    }
    case 'read_only':
      return {
        tone: 'error',
        message: `${context}: ${asSentence(message)} Nothing new is saved until Inkwell can write to its data folder; keep a copy of new text (Save .txt).`,
        key: storageNoticeKey,
      };
    case 'disk_full':
      return {
        tone: 'error',
        message: `${context}: ${asSentence(message)} Free some space on that disk and try again; a document being edited is saved as soon as there is room.`,
        key: storageNoticeKey,
      };
    default:
      return { tone: 'error', message: `${context}: ${message}` };
  }
}
