// Readers for an untrusted CCDL document. Each takes the JSON pointer of the
// value it reads, so every refusal names the exact place in the document.
// Two kinds of refusal: a document that breaks the CCDL schema is invalid
// (ERR_QUERY_INVALID, 400); a valid document using something query v1
// cannot say is unsupported (ERR_CCDL_UNSUPPORTED, 422).
import { type ProblemError, commonErrors, pointerToken, problemFactory } from '../problem.ts';

const fail = problemFactory(commonErrors);

/** The document breaks the CCDL schema at `pointer`. */
export function malformed(pointer: string, detail: string): ProblemError {
  return fail('ERR_QUERY_INVALID', { pointer, detail: `CCDL: ${detail}` });
}

/** The document is valid CCDL, but query v1 cannot express what it says at `pointer`. */
export function unsupported(pointer: string, detail: string): ProblemError {
  return fail('ERR_CCDL_UNSUPPORTED', { pointer, detail });
}

/** The pointer of `key` inside the value at `at`. */
export function child(at: string, key: string | number): string {
  return `${at}/${pointerToken(key)}`;
}

/**
 * A JSON object whose keys are all in `known`. Keys outside it are
 * unsupported rather than invalid: CCDL allows extra keys, but a key whose
 * meaning is unknown cannot be translated without guessing.
 */
export function readObject(
  value: unknown,
  at: string,
  known: readonly string[],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(at, 'must be an object');
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw unsupported(child(at, key), `unknown key "${key}"`);
  }
  return value as Record<string, unknown>;
}

/** A required key of an object read by `readObject`. */
export function required(obj: Record<string, unknown>, key: string, at: string): unknown {
  if (obj[key] === undefined) throw malformed(at, `missing required key "${key}"`);
  return obj[key];
}

export function readArray(value: unknown, at: string, minItems = 0): unknown[] {
  if (!Array.isArray(value)) throw malformed(at, 'must be an array');
  if (value.length < minItems) throw malformed(at, `must have at least ${minItems} item(s)`);
  return value;
}

export function readString(value: unknown, at: string): string {
  if (typeof value !== 'string') throw malformed(at, 'must be a string');
  return value;
}

export function readNumber(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(at, 'must be a number');
  return value;
}

export function readBoolean(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') throw malformed(at, 'must be true or false');
  return value;
}
