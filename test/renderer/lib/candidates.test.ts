import { describe, expect, it } from 'vitest';
import { CandidateSet } from '../../../src/renderer/src/lib/candidates';

const streaming = (count: number): CandidateSet => CandidateSet.waiting(count).started(count);

describe('CandidateSet', () => {
  it('appends deltas to their own sequence and ignores unknown sequences', () => {
    const set = streaming(3).withDelta(0, ' The').withDelta(2, ' A').withDelta(0, ' fog').withDelta(7, 'lost');
    expect(set.cards.map((c) => c.text)).toEqual([' The fog', '', ' A']);
    expect(set.phase).toBe('streaming');
  });

  it('grows or shrinks the waiting cards to the count the back end reports', () => {
    expect(CandidateSet.waiting(3).started(5).cards).toHaveLength(5);
    expect(CandidateSet.waiting(3).started(1).cards).toHaveLength(1);
  });

  it('cycles forward and backward with wrap-around', () => {
    let set = streaming(3);
    set = set.cycle(1);
    expect(set.selected).toBe(1);
    set = set.cycle(1).cycle(1);
    expect(set.selected).toBe(0);
    set = set.cycle(-1);
    expect(set.selected).toBe(2);
  });

  it('does not cycle with fewer than two candidates', () => {
    const one = streaming(1);
    expect(one.cycle(1)).toBe(one);
  });

  it('accepts the selected candidate and returns to idle', () => {
    const set = streaming(2).withDelta(0, ' one').withDelta(1, ' two').cycle(1);
    const accepted = set.accept();
    expect(accepted?.index).toBe(1);
    expect(accepted?.text).toBe(' two');
    expect(accepted?.next.phase).toBe('idle');
    expect(accepted?.next.canAccept).toBe(false);
  });

  it('refuses to accept an empty candidate, a failed set or nothing', () => {
    expect(streaming(2).accept()).toBeNull();
    expect(CandidateSet.idle().accept()).toBeNull();
    expect(streaming(1).withDelta(0, 'x').failed('boom').accept()).toBeNull();
  });

  it('lets the final result replace streamed text and keeps the selection', () => {
    const set = streaming(2).withDelta(0, ' partial').cycle(1).finished({
      sequences: [
        { text: ' final one', tokenIds: [1], finishReason: 'length' },
        { text: ' final two', tokenIds: [2], finishReason: 'stop' },
      ],
    });
    expect(set.phase).toBe('done');
    expect(set.cards.map((c) => [c.text, c.finishReason])).toEqual([
      [' final one', 'length'],
      [' final two', 'stop'],
    ]);
    expect(set.current?.text).toBe(' final two');
  });

  it('marks an all-cancelled result as stopped, and stopped() keeps streamed text', () => {
    const cancelled = streaming(1).finished({ sequences: [{ text: ' half', tokenIds: [], finishReason: 'cancelled' }] });
    expect(cancelled.phase).toBe('stopped');
    const stopped = streaming(2).withDelta(1, ' kept').stopped();
    expect(stopped.phase).toBe('stopped');
    expect(stopped.running).toBe(false);
    expect(stopped.cards[1]).toEqual({ index: 1, text: ' kept', finishReason: 'cancelled' });
    expect(stopped.canAccept).toBe(false);
    expect(stopped.select(1).canAccept).toBe(true);
  });

  it('ignores deltas after the set stopped running', () => {
    const done = streaming(1).withDelta(0, 'a').stopped();
    expect(done.withDelta(0, 'b')).toBe(done);
  });
});
