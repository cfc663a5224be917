// Warnings on a merged answer, from the federated catalogue: a code, or a
// whole code system, that no node lists, so that a zero is read as "nobody
// has this code" and not as "nobody has this condition". The web page flags
// the same codings at their fields while the query is built.
import type { CatalogueEntry, MergedResult } from '@tessera/schemas';
import { systemHeldBySomeNode, unheldCodings } from '@tessera/schemas/codings';

export type QueryWarning = NonNullable<MergedResult['warnings']>[number];

/**
 * One warning per coding of `query` that no node of `catalogue` lists:
 * `WARN_SYSTEM_NOT_HELD` when no node holds any code of its system,
 * `WARN_CODE_NOT_HELD` otherwise; `pointer` is the coding's code field in
 * the query as submitted. None when the nodes publish no codes at all.
 * @example queryWarnings(query, entries) // [{ code: 'WARN_CODE_NOT_HELD', pointer: '/cohort/condition/code/0/code', detail: '…' }]
 */
export function queryWarnings(
  query: unknown,
  catalogue: readonly CatalogueEntry[],
): QueryWarning[] {
  return unheldCodings(query, catalogue).map((c) =>
    systemHeldBySomeNode(catalogue, c.system)
      ? {
          code: 'WARN_CODE_NOT_HELD',
          pointer: c.pointer,
          detail: `no node's catalogue lists ${c.kind} code ${c.code}${c.descendants ? ' or a code under it' : ''} of ${c.system}; its count is zero because no node holds the code`,
        }
      : {
          code: 'WARN_SYSTEM_NOT_HELD',
          pointer: c.pointer,
          detail: `no node's catalogue lists any code of ${c.system}; criteria in it match nobody`,
        },
  );
}
