// A live source on a test FHIR server, as a node configured without limits of
// its own has it.
import { liveSourceDefaults } from '@tessera/schemas/testing';
import { createFhirSource } from '@tessera/node-adapter';
import type { FhirSource, FhirSourceOptions } from '@tessera/node-adapter';

/**
 * A live source reading `baseUrl` without authentication, with the default
 * limits; `options` overrides any of them.
 * @example const source = liveSourceOn(server.baseUrl, SECRET, { pageSize: 50 });
 */
export function liveSourceOn(
  baseUrl: string,
  recordKeySecret: Uint8Array,
  options: Partial<FhirSourceOptions> = {},
): FhirSource {
  const { concurrency, timeoutMs, maxResources, pageSize, dataVersionTtlMs } = liveSourceDefaults();
  return createFhirSource({
    concurrency,
    timeoutMs,
    maxResources,
    pageSize,
    dataVersionTtlMs,
    baseUrl,
    auth: { kind: 'none' },
    recordKeySecret,
    ...options,
  });
}
