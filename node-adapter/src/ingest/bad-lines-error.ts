// Ingest's one error with a payload: the share rule failed. Its code and
// title come from the node's catalogue (errors.ts) like every other.
import { ProblemError } from '@tessera/schemas';
import { nodeErrors } from '../errors.ts';

/** The share rule failed; carries the malformed-line report so callers can show it. */
export class TooManyBadLinesError extends ProblemError {
  readonly badLines: readonly string[];
  readonly badLineCount: number;
  readonly total: number;

  constructor(badLines: readonly string[], badLineCount: number, total: number, maxShare: number) {
    const spec = nodeErrors.ERR_INGEST_TOO_MANY_BAD_LINES;
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
