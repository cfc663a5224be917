// What the node needs from its data source, beyond evaluation: whether it can
// answer now, what it may say about itself in the catalogue, and two gauges.
// Each source (the DuckDB store, a live FHIR server) answers these its own
// way, so the composition root never asks which kind it holds.
import type { CatalogueEntry } from '@tessera/schemas';
import type { CatalogueSettings } from '../catalogue/catalogue.ts';
import type { QuerySource } from '../evaluate/ports.ts';

/** `GET /readyz`: whether the node can answer now; the reason when not. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  readonly dataVersion?: string;
  readonly dataAgeSeconds?: number;
}

export interface NodeSource extends QuerySource {
  /** Whether the source can answer now (store not open, no data loaded, server down). */
  readiness(): Promise<Readiness>;
  /** A disclosure-safe catalogue entry describing the data of `dataVersion`. */
  catalogue(settings: CatalogueSettings, dataVersion: string): Promise<CatalogueEntry>;
  /** Seconds since the data was loaded (0 for a source as fresh as its server). */
  dataAgeSeconds(): number;
  /** Bytes the source keeps on disk (0 when it keeps none). */
  storeBytes(): number;
  /**
   * Switches to the store file now at the source's path (after a sync
   * renamed a new one over it); resolves to its data version. Only sources
   * that serve a local store have it.
   */
  readonly reload?: () => Promise<string>;
  close(): void | Promise<void>;
}
