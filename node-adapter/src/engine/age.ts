// Whole-year ages as date bounds. A person born on B is at least n whole years
// old on day D when yyyymmdd(D) - yyyymmdd(B) >= n * 10000, i.e. when their
// birthday has come round n times (someone born on 29 February turns a year
// older on 1 March in common years). With D fixed (the query's asOf) that is a
// bound on the birth date, so age criteria and age bands compile to plain
// date comparisons. A dead patient stops ageing: D is the death date when it
// comes before asOf, and for those patients compile.ts takes the same bound
// from each one's death date (dialect.yearsBefore).

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * The latest birth date of a person at least `years` whole years old on `on`
 * (both ISO dates): age(B, on) >= years exactly when B <= the result.
 * @example latestBirthDateForAge('2026-01-01', 40) // '1986-01-01'
 * @example latestBirthDateForAge('2024-02-29', 1) // '2023-02-28'
 */
export function latestBirthDateForAge(on: string, years: number): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(on);
  if (!match) throw new RangeError(`not an ISO date: ${on}`);
  const year = Number(match[1]) - years;
  const month = match[2]!;
  // yyyymmdd(B) <= (year)0229 in a common year means B <= (year)-02-28.
  const day = month === '02' && match[3] === '29' && !isLeapYear(year) ? '28' : match[3]!;
  return `${String(year).padStart(4, '0')}-${month}-${day}`;
}

/**
 * Stratum labels of an age band dimension.
 * @example ageBandLabels([0, 18, 40, 65, 80]) // ['0-17', '18-39', '40-64', '65-79', '80+']
 */
export function ageBandLabels(edges: readonly number[]): string[] {
  return edges.map((edge, i) => {
    const next = edges[i + 1];
    return next === undefined ? `${edge}+` : `${edge}-${next - 1}`;
  });
}
