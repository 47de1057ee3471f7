/**
 * Maps whatever a back-end part throws to the one error type that crosses the
 * API boundary. Engine and history errors carry a `kind`; SQLite and file-system
 * errors that mean "read-only" or "disk full" carry a `code`; anything else is a
 * bug and becomes `internal`.
 */
import { ApiError, ApiErrorKind, type EngineErrorKind } from '../../shared/api';

/** Engine error kind → API error kind. */
const engineKinds: Record<EngineErrorKind, ApiErrorKind> = {
  bad_input: 'invalid_request',
  not_found: 'not_found',
  refused: 'refused',
  cancelled: 'cancelled',
  device: 'model_error',
  internal: 'internal',
};

/** An ApiError for an error of engine kind `kind`. */
export function apiErrorFromKind(kind: string, message: string): ApiError {
  const mapped = Object.hasOwn(engineKinds, kind)
    ? engineKinds[kind as EngineErrorKind]
    : ApiErrorKind.safeParse(kind).success
      ? (kind as ApiErrorKind)
      : 'internal';
  return new ApiError(mapped, message);
}

/**
 * The API kind of a storage failure (a SqliteError's or a Node errno code), or null: a write to a
 * read-only database or folder, or to a full disk, is the machine's state, not a bug.
 */
export function storageErrorKind(code: unknown): 'read_only' | 'disk_full' | null {
  if (typeof code !== 'string') return null;
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'read_only';
  return null;
}

/** The message of anything thrown: an Error's message, else the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns anything thrown into an ApiError, keeping the kind it carries when it has one. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const kind = (error as { kind?: unknown } | null)?.kind;
  const message = errorMessage(error);
  if (typeof kind === 'string') return apiErrorFromKind(kind, message);
  const storage = storageErrorKind((error as { code?: unknown } | null)?.code);
  if (storage === 'read_only') return new ApiError('read_only', `Inkwell cannot save: its data is read-only here (${message})`);
  if (storage === 'disk_full') return new ApiError('disk_full', `Inkwell cannot save: the disk is full (${message})`);
  return new ApiError('internal', message);
}
