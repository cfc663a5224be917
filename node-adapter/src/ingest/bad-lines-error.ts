// Ingest's error codes. They belong in the node's catalogue (and in
// docs/errors.md) alongside the service's other codes.
import { defineErrors, problemFactory, ProblemError } from '@tessera/schemas';

export const ingestErrors = defineErrors({
  ERR_INGEST_SOURCE_NOT_FOUND: { status: 404, title: 'An ingest source does not exist' },
  ERR_INGEST_SOURCE_UNSUPPORTED: {
    status: 400,
    title: 'An ingest source is neither NDJSON nor a FHIR Bundle',
  },
  ERR_INGEST_SOURCE_UNREADABLE: { status: 422, title: 'An ingest source could not be read' },
  ERR_INGEST_NO_SOURCES: { status: 400, title: 'The ingest sources hold no FHIR files' },
  ERR_INGEST_RECORD_KEY: { status: 400, title: 'The record key secret is not usable' },
  ERR_INGEST_TOO_MANY_BAD_LINES: {
    status: 422,
    title: 'Too many malformed lines: the store was left unchanged',
  },
});

export const ingestProblem = problemFactory(ingestErrors);

/** The share rule failed; carries the malformed-line report so callers can show it. */
export class TooManyBadLinesError extends ProblemError {
  readonly badLines: readonly string[];
  readonly badLineCount: number;
  readonly total: number;

  constructor(badLines: readonly string[], badLineCount: number, total: number, maxShare: number) {
    const spec = ingestErrors.ERR_INGEST_TOO_MANY_BAD_LINES;
    const share = total === 0 ? 0 : badLineCount / total;
    super('ERR_INGEST_TOO_MANY_BAD_LINES', spec.status, spec.title, {
      detail:
        `${badLineCount} of ${total} resources are malformed (${formatShare(share)}), ` +
        `above the allowed ${formatShare(maxShare)}`,
    });
    this.badLines = badLines;
    this.badLineCount = badLineCount;
    this.total = total;
  }
}

function formatShare(share: number): string {
  return `${Number((share * 100).toPrecision(3))}%`;
}
