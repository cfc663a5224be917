// The node configuration's FHIR credentials (`source.auth`, `sync.auth`) as
// the FHIR client takes them, shared by the live source and sync. A SMART
// Backend Services private key is read from its JWK file here, once.
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Frozen, ResolvedFhirAuth } from '@tessera/schemas';
import { nodeProblem } from '../errors.ts';
import type { FhirAuth } from './auth.ts';

function configError(detail: string): Error {
  return nodeProblem('ERR_SOURCE_CONFIG', { detail });
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The configuration's FHIR credentials as the FHIR client takes them: a
 * SMART Backend Services key is read from its JWK file (its `kid` is the
 * config's or the key's own; the scope is the config's, defaulted by its schema).
 * @example await resolveFhirAuth({ kind: 'none' }, '/etc/tessera') // { kind: 'none' }
 */
export async function resolveFhirAuth(
  auth: Frozen<ResolvedFhirAuth>,
  baseDir: string,
): Promise<FhirAuth> {
  if (auth.kind === 'none') return { kind: 'none' };
  if (auth.kind === 'bearer') return { kind: 'bearer', token: auth.token };
  if (auth.kind === 'basic') {
    return { kind: 'basic', username: auth.username, password: auth.password };
  }
  const file = isAbsolute(auth.privateKeyFile)
    ? auth.privateKeyFile
    : resolve(baseDir, auth.privateKeyFile);
  let jwk: unknown;
  try {
    jwk = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw configError('auth.privateKeyFile is not a readable JWK (JSON) file');
  }
  if (!isJson(jwk) || typeof jwk.kty !== 'string') {
    throw configError('auth.privateKeyFile does not hold a JWK');
  }
  const kid = auth.kid ?? (typeof jwk.kid === 'string' ? jwk.kid : undefined);
  if (kid === undefined) throw configError('auth.kid is required when the key names no kid');
  return {
    kind: 'smart-backend',
    tokenUrl: auth.tokenUrl,
    clientId: auth.clientId,
    privateJwk: jwk,
    kid,
    scope: auth.scope,
  };
}
