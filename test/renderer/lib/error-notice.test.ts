/**
 * The notices of each error kind: a busy machine is a warning in the server's words with what to
 * do, a read-only data folder or a full disk is one banner that says so, and no kind is shown as
 * "internal".
 */
import { describe, expect, it } from 'vitest';
import { ApiError, ApiErrorKind } from '../../../src/shared/api';
import { busyNoticeKey, crashNotice, engineCrashMessage, noticeFor, storageNoticeKey } from '../../../src/renderer/src/lib/error-notice';

describe('noticeFor', () => {
  it('says Inkwell is busy in the server’s words, as a warning to try again', () => {
    const server = new ApiError('busy', 'Inkwell is busy: 16 sequence(s) are being generated and 4 request(s) are waiting; try again when one finishes');
    expect(noticeFor(server, 'Could not start the generation')).toEqual({
      tone: 'warning',
      message: 'Inkwell is busy: 16 sequence(s) are being generated and 4 request(s) are waiting; try again when one finishes.',
      key: busyNoticeKey,
    });
    // Words from elsewhere (a remote engine) are kept and get the advice.
    expect(noticeFor(new ApiError('busy', 'the server is busy (429)'), 'x')?.message).toBe('Inkwell is busy: The server is busy (429). Try again when a generation finishes.');
  });

  it('gives a read-only data folder and a full disk one storage banner each, with the server’s words and what to do', () => {
    const readOnly = noticeFor(new ApiError('read_only', 'Inkwell cannot save generations: its history database is read-only (see the notice at start-up)'), 'Could not start the generation');
    expect(readOnly).toMatchObject({ tone: 'error', key: storageNoticeKey });
    expect(readOnly?.message).toMatch(/^Could not start the generation: Inkwell cannot save generations: its history database is read-only \(see the notice at start-up\)\. Nothing new is saved/);
    const full = noticeFor(new ApiError('disk_full', 'Inkwell cannot save: the disk is full (SQLITE_FULL)'), 'Could not save “Draft”');
    expect(full).toMatchObject({ tone: 'error', key: storageNoticeKey });
    expect(full?.message).toMatch(/^Could not save “Draft”: Inkwell cannot save: the disk is full \(SQLITE_FULL\)\. Free some space/);
  });

  it('never shows a kind’s name, "internal" included, and keeps a cancel quiet', () => {
    for (const kind of ApiErrorKind.options) {
      const notice = noticeFor(new ApiError(kind, 'what happened'), 'Doing it');
      if (kind === 'cancelled') expect(notice).toBeNull();
      else expect(notice?.message).not.toMatch(/internal|read_only|disk_full|\bbusy\b(?!:)/);
    }
  });

  it('words a crash from the back end’s own account, or the generic one without it', () => {
    expect(crashNotice('the inference process stopped (signal SIGKILL); the next request starts it again')).toBe(
      'The inference process stopped (signal SIGKILL); the next request starts it again.',
    );
    expect(crashNotice(undefined)).toBe(engineCrashMessage);
    expect(crashNotice('  ')).toBe(engineCrashMessage);
  });
});
