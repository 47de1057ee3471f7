import { describe, expect, it } from 'vitest';
import { apiErrorFromKind, storageErrorKind, toApiError } from '../../../src/main/common/errors';
import { EngineError } from '../../../src/main/engine';
import { ApiError } from '../../../src/shared/api';

const withCode = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('toApiError', () => {
  it('keeps ApiErrors and maps engine kinds', () => {
    const api = new ApiError('busy', 'wait');
    expect(toApiError(api)).toBe(api);
    expect(toApiError(new EngineError('bad_input', 'x')).kind).toBe('invalid_request');
    expect(toApiError(new EngineError('device', 'x')).kind).toBe('model_error');
    expect(apiErrorFromKind('not_a_kind', 'x').kind).toBe('internal');
    expect(apiErrorFromKind('toString', 'x').kind).toBe('internal');
  });

  it('names a read-only database or folder and a full disk instead of calling them internal', () => {
    expect(toApiError(withCode('SQLITE_READONLY', 'attempt to write a readonly database'))).toMatchObject({ kind: 'read_only', message: expect.stringContaining('read-only') });
    expect(toApiError(withCode('SQLITE_READONLY_DBMOVED', 'x')).kind).toBe('read_only');
    expect(toApiError(withCode('SQLITE_FULL', 'database or disk is full'))).toMatchObject({ kind: 'disk_full', message: expect.stringContaining('the disk is full') });
    expect(toApiError(withCode('ENOSPC', 'no space left on device')).kind).toBe('disk_full');
    expect(toApiError(withCode('EROFS', 'read-only file system')).kind).toBe('read_only');
    expect(toApiError(withCode('SQLITE_CONSTRAINT', 'x')).kind).toBe('internal');
    expect(storageErrorKind(undefined)).toBeNull();
  });
});
