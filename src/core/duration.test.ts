import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['0ms', 0],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1d2h3m4s5ms', 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5],
    ['90s', 90_000],
    ['999999999ms', 999_999_999],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '30', // bare number: seconds or minutes?
    '',
    '1x',
    '5x',
    '-1s',
    '1.5s',
    ' 1s',
    '1s ',
    '1 s',
    '1S',
    's',
    'ms',
    '1s-',
    '1h 30m',
    '1s\n',
    '\n1s',
    '1sec',
    '1w',
    '1y',
    '+1s',
    '0x10s',
    '1e3ms',
    '1234567890s', // more than 9 digits in a part
    '1s;',
  ])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('is not fooled by a valid duration inside a longer text', () => {
    expect(parseDuration('x1s')).toBeUndefined();
    expect(parseDuration('1s1x')).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [1, '1ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1s500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [172_800_000, '2d'],
    [86_400_000 + 1, '1d1ms'],
  ])('%d ms is %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round trips: formatDuration(ms) parses back to ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), (ms) => {
        const text = formatDuration(ms);
        expect(parseDuration(text), text).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('round trips at unit boundaries', () => {
    for (const unit of [1, 1000, 60_000, 3_600_000, 86_400_000]) {
      for (const ms of [unit - 1, unit, unit + 1, 10 * unit, 10 * unit - 1]) {
        expect(parseDuration(formatDuration(ms)), String(ms)).toBe(ms);
      }
    }
  });
});
