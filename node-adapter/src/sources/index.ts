// The node's data sources. Each implements NodeSource (source.ts): true
// figures for the evaluation pipeline, readiness, the catalogue and two
// gauges. A new kind of source lives in this folder and is opened here, by
// the configuration's `source.kind`.
import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { LoadedConfig } from '@tessera/schemas';
import { readingFromConfig } from '../ingest/reading.ts';
import { openDuckDbSource } from './duckdb-source.ts';
import { openFhirQuerySource } from './live-fhir-source.ts';
import type { NodeSource } from './source.ts';

export type { NodeSource, Readiness } from './source.ts';
export type { DuckDbSource } from './duckdb-source.ts';
export type { FhirQuerySource } from './live-fhir-source.ts';
export { openDuckDbSource, openFhirQuerySource };

export interface OpenSourceOptions {
  /** Directory relative paths in the config are resolved against. */
  readonly baseDir: string;
  /** The node's state directory (the live source keeps its record key there by default). */
  readonly stateDir: string;
  readonly now: () => Date;
  /** A fresh random identifier. */
  readonly randomId: () => string;
  /** For the live FHIR source (tests count requests with it). */
  readonly fetch?: typeof fetch;
}

/**
 * Opens the source the configuration names.
 * @example const source = await openNodeSource(config, { baseDir, stateDir, now, randomId });
 */
export async function openNodeSource(
  config: LoadedConfig<'node-config'>,
  options: OpenSourceOptions,
): Promise<NodeSource> {
  const { source } = config;
  switch (source.kind) {
    case 'fhir':
      await mkdir(options.stateDir, { recursive: true });
      return openFhirQuerySource(source, {
        baseDir: options.baseDir,
        stateDir: options.stateDir,
        ...(config.recordKeyFile === undefined ? {} : { recordKeyFile: config.recordKeyFile }),
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        now: () => options.now().getTime(),
        randomId: options.randomId,
        reading: readingFromConfig(config.reading),
      });
    case 'duckdb':
      return openDuckDbSource(
        isAbsolute(source.path) ? source.path : resolve(options.baseDir, source.path),
        { now: options.now },
      );
  }
}
