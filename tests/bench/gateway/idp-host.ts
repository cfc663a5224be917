// The test OpenID provider in a child process of its own, for the gateway
// benchmark: in production the IdP is another service, and oidc-provider in
// the gateway's process would switch on async hooks (its AsyncLocalStorage)
// and slow every promise the gateway makes.
//
// argv[2]: IdpHostInit as JSON. Sends IdpHostReady once the provider listens
// and has issued the client's access token; exits on `stop`.
import { startTestIdp } from '@tessera/gateway/testing';
import type { IdpHostInit, IdpHostReady } from './protocol.ts';

// Without the parent (it exited or was killed) there is nothing left to do.
process.on('disconnect', () => process.exit(0));

async function start(): Promise<void> {
  const init = JSON.parse(process.argv[2] ?? '{}') as IdpHostInit;
  const idp = await startTestIdp({
    clients: [init.client],
    projectsByClient: { [init.client]: init.projects },
    accessTokenTtlSec: init.accessTokenTtlSec,
  });
  const ready: IdpHostReady = {
    type: 'ready',
    issuer: idp.issuer,
    audience: idp.audience,
    token: await idp.tokenFor(init.client),
  };
  process.on('message', () => {
    void idp.close().finally(() => process.disconnect());
  });
  process.send?.(ready);
}

await start();
