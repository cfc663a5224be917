// Browser hygiene for every answer either service gives (threat 56): no
// content-type sniffing, no referrer, a Content-Security-Policy, and answers
// no cache keeps. An API answer is nothing a browser should render, run,
// frame or store; the gateway's web page loosens the policy to 'self' only
// for its own files.
import type { RequestHandler } from 'express';

/** For answers that are data, not a page: nothing may load, frame it or be submitted from it. */
export const API_CSP =
  "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * For a page served with its own scripts and styles: only files from its
 * own origin, no inline script or style, no eval, no framing, no <base>.
 * `connectOrigins` are other origins its scripts may call (the IdP the page
 * signs in with); each must be a bare origin such as `https://idp.example`.
 * @example pageCsp(['https://idp.example'])
 */
export function pageCsp(connectOrigins: readonly string[] = []): string {
  for (const origin of connectOrigins) {
    if (!/^https?:\/\/[a-z0-9.-]+(:\d+)?$|^https?:\/\/\[[0-9a-f:.]+\](:\d+)?$/i.test(origin)) {
      throw new Error(`pageCsp: not a bare origin: ${origin}`);
    }
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    ["connect-src 'self'", ...connectOrigins].join(' '),
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The page policy for a page that calls no other origin. */
export const PAGE_CSP = pageCsp();

export interface SecurityHeadersOptions {
  /** Content-Security-Policy (default {@link API_CSP}). */
  readonly contentSecurityPolicy?: string;
  /** Cache-Control (default `no-store`: answers carry results and tokens' effects). */
  readonly cacheControl?: string;
}

/**
 * The hygiene headers of every answer, as names and values.
 * @example for (const [name, value] of Object.entries(hygieneHeaders())) res.setHeader(name, value);
 */
export function hygieneHeaders(
  options: SecurityHeadersOptions = {},
): Readonly<Record<string, string>> {
  return Object.freeze({
    'content-security-policy': options.contentSecurityPolicy ?? API_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': options.cacheControl ?? 'no-store',
  });
}

/**
 * A service's second middleware (after requestContext): sets the hygiene
 * headers on every answer, errors and 404s included; a route may override.
 * @example app.use(securityHeaders());
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): RequestHandler {
  const headers = Object.entries(hygieneHeaders(options));
  return function securityHeaders(_req, res, next) {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
