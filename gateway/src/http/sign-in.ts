// GET /v1/sign-in: where a researcher's tools sign in, from the gateway's own
// configuration, so `tessera login` needs nothing but the gateway's URL.
// Public: it names the IdP and a public client, nothing secret.
import express from 'express';

export interface SignInSettings {
  readonly issuer: string;
  /** The resource indicator (RFC 8707) to ask tokens for: the gateway's audience. */
  readonly audience: string;
  /** The scope the gateway requires. */
  readonly scope: string;
  /** The IdP's public client for the command line (device authorization grant). */
  readonly cliClientId?: string | undefined;
}

/** @example app.use(signInRouter({ issuer, audience, scope: 'tessera:query', cliClientId: 'tessera-cli' })); */
export function signInRouter(settings: SignInSettings): express.Router {
  const router = express.Router();
  const body = {
    issuer: settings.issuer,
    audience: settings.audience,
    scope: settings.scope,
    ...(settings.cliClientId === undefined ? {} : { cliClientId: settings.cliClientId }),
  };
  router.get('/v1/sign-in', (_req, res) => {
    res.json(body);
  });
  return router;
}
