/**
 * The history filter's date fields hold local calendar days (YYYY-MM-DD from <input type=date>),
 * while the back end reads a bare date as a UTC day. These turn a local day into the exact
 * instants that bound it, so "from Nov 26 to Nov 26" means the user's Nov 26 in any time zone.
 */

function parseDay(day: string): [number, number, number] | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  return [Number(match[1]), Number(match[2]) - 1, Number(match[3])];
}

/** The first instant of a local day, as an ISO date-time (UTC); other input is returned unchanged. */
export function localDayStart(day: string): string {
  const parts = parseDay(day);
  return parts ? new Date(parts[0], parts[1], parts[2]).toISOString() : day;
}

/** The last millisecond of a local day, as an ISO date-time (UTC); other input is returned unchanged. */
export function localDayEnd(day: string): string {
  const parts = parseDay(day);
  return parts ? new Date(new Date(parts[0], parts[1], parts[2] + 1).getTime() - 1).toISOString() : day;
}
