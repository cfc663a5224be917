// Dates as day numbers (days since 1970-01-01): integer arithmetic in the
// generator's inner loop, formatted only when a resource is written.

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` -> day number. */
export function isoToDay(iso: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (match === null) throw new RangeError(`not a date: ${iso}`);
  return Math.floor(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / DAY_MS);
}

/**
 * Day number -> `YYYY-MM-DD`, by the civil-from-days algorithm (no Date objects).
 * @example dayToIso(0) // '1970-01-01'
 */
export function dayToIso(day: number): string {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

/**
 * A local dateTime in Central European time (summer time approximated as
 * April to October), e.g. `2019-03-04T10:20:00+01:00`.
 */
export function dateTimeOf(day: number, minuteOfDay: number): string {
  const iso = dayToIso(day);
  const month = (iso.charCodeAt(5) - 48) * 10 + (iso.charCodeAt(6) - 48);
  const hh = Math.floor(minuteOfDay / 60) % 24;
  const mm = minuteOfDay % 60;
  const offset = month >= 4 && month <= 10 ? '+02:00' : '+01:00';
  return `${iso}T${hh < 10 ? '0' : ''}${hh}:${mm < 10 ? '0' : ''}${mm}:00${offset}`;
}

export const DAYS_PER_YEAR = 365.2425;
