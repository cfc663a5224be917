// The configured sync as the running node uses it: one call that refreshes
// the store file from the FHIR server (sync/) and switches the source to it.
import type { Logger } from 'pino';
import { resolveFhirAuth } from '../fhir-client/auth-config.ts';
import type { NodeSource } from '../sources/source.ts';
import { loadOrCreateKeyFile } from '../store/key-file.ts';
import type { NodeSettings } from './config.ts';
import { refreshStore } from '../sync/harvest.ts';
import { readingFromConfig } from '../ingest/reading.ts';

/** One sync run: whether the data changed, and the data version served afterwards. */
export type SyncRun = () => Promise<{ changed: boolean; dataVersion: string }>;

/**
 * The configured sync as one call: refreshes the store file from the FHIR
 * server (a new file renamed over the old) and, when it changed and is the
 * file this node serves, reopens the source on it. Runs never overlap; a
 * failed run is logged (its code only) and leaves store and version as they
 * were. Undefined without a `sync` block or a source that serves a local store.
 */
export async function createSync(
  config: NodeSettings,
  source: NodeSource,
  at: (p: string) => string,
  logger: Logger,
): Promise<SyncRun | undefined> {
  const settings = config.sync;
  const reload = source.reload;
  if (settings === undefined || reload === undefined) return undefined;
  const storePath = at(settings.storePath);
  const served = config.source.kind === 'duckdb' && storePath === at(config.source.path);
  if (!served) logger.warn('sync.storePath is not source.path: the node keeps serving its store');
  const auth = await resolveFhirAuth(settings.auth, at('.'));
  const recordKeySecret = await loadOrCreateKeyFile(
    at(config.recordKeyFile ?? `${settings.storePath}.key`),
  );
  let running: ReturnType<SyncRun> | undefined;
  const once: SyncRun = async () => {
    try {
      const report = await refreshStore({
        baseUrl: settings.baseUrl,
        auth,
        storePath,
        recordKeySecret,
        mode: settings.mode,
        incremental: settings.incremental,
        fullEveryMs: settings.fullEveryHours * 3_600_000,
        reading: readingFromConfig(config.reading),
      });
      const dataVersion = report.changed && served ? await reload() : report.dataVersion;
      logger.info(
        {
          method: report.method,
          incremental: report.since !== undefined,
          changed: report.changed,
          resources: report.resources,
        },
        'sync finished',
      );
      return { changed: report.changed, dataVersion };
    } catch (err) {
      logger.warn({ code: (err as { code?: unknown }).code ?? 'ERR_SYNC' }, 'sync failed');
      throw err;
    }
  };
  return () => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
}
