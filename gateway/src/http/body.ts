// Reading a request body at the gateway: JSON queries, optionally compressed
// with gzip, deflate or brotli, within a cap on the decompressed size (a gzip
// bomb stops at the cap). The routes that read bodies sit behind researcher
// authentication, so nothing is decompressed for an anonymous caller.
// A body that does not decompress is the caller's fault, 400
// ERR_BODY_ENCODING, and an encoding not offered 415 ERR_ENCODING_UNSUPPORTED;
// before, zlib's errors reached the problem handler unrecognised and were
// answered 500 ERR_INTERNAL (threat 49).
import express, { type RequestHandler } from 'express';
import { gatewayProblem } from '../errors.ts';

const OFFERED = new Set(['identity', 'gzip', 'deflate', 'br']);

/**
 * Middleware that leaves the body's decompressed bytes in `req.body` (a Buffer).
 * @example router.post('/queries', readBody(262_144), handler);
 */
export function readBody(limitBytes: number): RequestHandler {
  const raw = express.raw({ type: () => true, limit: limitBytes, inflate: true });
  return (req, res, next) => {
    const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
    if (!OFFERED.has(encoding) && encoding !== '') {
      next(
        gatewayProblem('ERR_ENCODING_UNSUPPORTED', {
          detail: 'send the body uncompressed, or with Content-Encoding gzip, deflate or br',
        }),
      );
      return;
    }
    raw(req, res, (err?: unknown) => {
      // body-parser gives its own errors a `type` (too large, aborted, length
      // mismatch); a stream error from zlib has none and arrives as a bare 400.
      const typed = typeof (err as { type?: unknown } | undefined)?.type === 'string';
      const status = (err as { status?: unknown } | undefined)?.status;
      if (err !== undefined && !typed && status === 400 && encoding !== 'identity') {
        next(
          gatewayProblem('ERR_BODY_ENCODING', { detail: `the body is not valid ${encoding} data` }),
        );
        return;
      }
      next(err);
    });
  };
}
