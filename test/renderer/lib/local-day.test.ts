import { describe, expect, it } from 'vitest';
import { localDayEnd, localDayStart } from '../../../src/renderer/src/lib/local-day';

describe('local day bounds', () => {
  it('bound the local calendar day, whatever the time zone', () => {
    const start = new Date(localDayStart('2026-11-26'));
    const end = new Date(localDayEnd('2026-11-26'));
    expect([start.getFullYear(), start.getMonth(), start.getDate(), start.getHours(), start.getMinutes()]).toEqual([2026, 10, 26, 0, 0]);
    expect([end.getFullYear(), end.getMonth(), end.getDate(), end.getHours(), end.getMinutes(), end.getSeconds(), end.getMilliseconds()]).toEqual([2026, 10, 26, 23, 59, 59, 999]);
    expect(end.getTime() - start.getTime()).toBe(24 * 3600 * 1000 - 1);
  });

  it('rolls over month and year ends', () => {
    const end = new Date(localDayEnd('2026-12-31'));
    expect([end.getFullYear(), end.getMonth(), end.getDate()]).toEqual([2026, 11, 31]);
    expect(new Date(new Date(localDayEnd('2026-12-31')).getTime() + 1).getDate()).toBe(1);
  });

  it('passes other text through for the back end to judge', () => {
    expect(localDayStart('2026-11-26T10:00:00Z')).toBe('2026-11-26T10:00:00Z');
    expect(localDayEnd('')).toBe('');
  });

  it('produces date-times the API schema accepts', async () => {
    const { parseRequest } = await import('../../../src/shared/api');
    expect(() => parseRequest('history.list', { from: localDayStart('2026-01-02'), to: localDayEnd('2026-01-02') })).not.toThrow();
  });
});
