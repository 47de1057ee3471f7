/** How history's date filters become bounds on the stored ISO timestamps. */
import { ApiError } from '../../shared/api';

const dateOnly = /^\d{4}-\d{2}-\d{2}$/;

/** `value` as an ISO date-time in UTC; ApiError invalid_request naming `field` when it is not a date. */
export function normalizeDateTime(value: string, field: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new ApiError('invalid_request', `${field}: "${value.slice(0, 40)}" is not a date`);
  return new Date(time).toISOString();
}

/** The first instant `from` includes. A date-only bound is a UTC calendar day; send a date-time with an offset for a local day. */
export function rangeStart(from: string): string {
  return dateOnly.test(from) ? `${from}T00:00:00.000Z` : normalizeDateTime(from, 'from');
}

/** The bound `to` sets: a date-time is inclusive, a date-only day ends before the next day starts. */
export function rangeEnd(to: string): { bound: string; inclusive: boolean } {
  if (!dateOnly.test(to)) return { bound: normalizeDateTime(to, 'to'), inclusive: true };
  const nextDay = new Date(`${to}T00:00:00.000Z`);
  nextDay.setUTCDate(nextDay.getUTCDate() + 1);
  return { bound: nextDay.toISOString(), inclusive: false };
}
