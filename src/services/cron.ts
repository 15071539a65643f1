import { Cron } from 'croner';
import { AppError } from '../core/errors.js';

/**
 * Cron expressions on croner: five fields (minute precision) or a nickname (@hourly, @daily,
 * @weekly, @monthly, @yearly), in an IANA time zone. Seconds fields and @every are refused: a
 * schedule is not a polling loop.
 */
const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
export const MAX_CRON_LENGTH = 100;

export function checkTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz }).format(0);
  } catch {
    throw new AppError('VALIDATION_FAILED', `timezone "${tz.slice(0, 60)}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
  }
}

export function parseCron(expr: string, timezone: string): Cron {
  checkTimezone(timezone);
  const text = expr.trim();
  const fields = text.split(/\s+/);
  if (text.length > MAX_CRON_LENGTH || !(NICKNAMES.has(text.toLowerCase()) || (fields.length === 5 && !text.startsWith('@')))) {
    throw new AppError('VALIDATION_FAILED', `schedule "${text.slice(0, 60)}": use five cron fields (minute hour day month weekday) or @hourly/@daily/@weekly/@monthly/@yearly`);
  }
  try {
    return new Cron(text, { timezone, paused: true });
  } catch (e) {
    throw new AppError('VALIDATION_FAILED', `schedule "${text.slice(0, 60)}": ${(e as Error).message.replace(/^CronPattern: /, '')}`);
  }
}

/** The first occurrence strictly after `after`, or null when there is none. */
export function nextOccurrence(cron: Cron, after: Date): Date | null {
  return cron.nextRun(after);
}

/** Occurrences in (`after`, `until`], oldest first, at most `cap`. */
export function occurrencesBetween(cron: Cron, after: Date, until: Date, cap: number): Date[] {
  const out: Date[] = [];
  let t: Date | null = after;
  while (out.length < cap && (t = cron.nextRun(t)) !== null && t <= until) out.push(t);
  return out;
}
