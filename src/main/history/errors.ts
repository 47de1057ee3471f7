/** The ApiErrors the stores raise for missing rows and rejected input. */
import type { z } from 'zod';
import { ApiError } from '../../shared/api';

/** `<what> <id> not found`, as ApiError not_found. */
export function notFound(what: string, id: number): ApiError {
  return new ApiError('not_found', `${what} ${id} not found`);
}

/** The first zod issue of `error`, as ApiError invalid_request naming the field. */
export function invalid(what: string, error: z.ZodError): ApiError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
  return new ApiError('invalid_request', `${what}${where}: ${issue?.message ?? 'invalid'}`);
}
