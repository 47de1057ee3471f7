/**
 * Maps whatever a back-end part throws to the one error type that crosses the
 * API boundary. Engine and history errors carry a `kind`; anything without one
 * is a bug and becomes `internal`.
 */
import { ApiError, ApiErrorKind } from '../../shared/api';

/** Engine error kind (src/main/engine/types.ts) → API error kind. */
const engineKinds: Record<string, ApiErrorKind> = {
  bad_input: 'invalid_request',
  not_found: 'not_found',
  refused: 'refused',
  cancelled: 'cancelled',
  device: 'model_error',
  internal: 'internal',
};

/** An ApiError for an error of engine kind `kind`. */
export function apiErrorFromKind(kind: string, message: string): ApiError {
  const mapped = engineKinds[kind] ?? (ApiErrorKind.safeParse(kind).success ? (kind as ApiErrorKind) : 'internal');
  return new ApiError(mapped, message);
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
  return new ApiError('internal', message);
}
