// How request-body failures read to a client. Pure: the services' HTTP edges
// call it with whatever their body parser threw.
import { ProblemError, commonErrors, toProblemError } from './problem.ts';
import { DuplicateKeyError, parseJsonText } from './query/strict-json.ts';

/**
 * Maps a body-parser error (by its `type`) to a problem: 413 for too large,
 * 415 for an unsupported encoding, 400 for a Content-Length mismatch or bad
 * JSON; anything else is internal.
 * @example bodyProblem({ type: 'entity.too.large' }).status // 413
 */
export function bodyProblem(err: unknown): ProblemError {
  const type = (err as { type?: unknown } | null)?.type;
  const make = (code: keyof typeof commonErrors, detail: string): ProblemError => {
    const spec = commonErrors[code];
    return new ProblemError(code, spec.status, spec.title, { detail });
  };
  switch (type) {
    case 'entity.too.large':
      return make('ERR_BODY_TOO_LARGE', 'the request body exceeds the size limit');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return make('ERR_MEDIA_TYPE', 'unsupported content encoding or charset');
    case 'request.size.invalid':
      return make('ERR_BODY_INVALID', 'the body does not match its Content-Length');
    case 'entity.parse.failed':
    case 'request.aborted':
      return make('ERR_BODY_INVALID', 'the body could not be read as JSON');
    default:
      return toProblemError(err);
  }
}

/**
 * Parses a JSON request body held as bytes; the bytes are kept by the caller
 * because signed requests bind the token to them.
 */
export function parseJsonBody(raw: Uint8Array | undefined): unknown {
  if (!raw || raw.length === 0) {
    const spec = commonErrors.ERR_BODY_INVALID;
    throw new ProblemError('ERR_BODY_INVALID', spec.status, spec.title, { detail: 'empty body' });
  }
  try {
    return parseJsonText(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    // A name twice in one object: which value would count is ambiguous (threat 50).
    if (err instanceof DuplicateKeyError) {
      const spec = commonErrors.ERR_QUERY_INVALID;
      throw new ProblemError('ERR_QUERY_INVALID', spec.status, spec.title, {
        pointer: err.pointer,
        detail: 'a name appears twice in one object',
      });
    }
    const spec = commonErrors.ERR_BODY_INVALID;
    throw new ProblemError('ERR_BODY_INVALID', spec.status, spec.title, {
      detail: 'the body is not valid UTF-8 JSON',
    });
  }
}
