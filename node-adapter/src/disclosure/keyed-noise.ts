// The uniform numbers behind every noise draw of the default mechanism: a
// keyed hash of (node noise key, release, position), so that
// - the same query on the same data gets the same noise in every process and
//   after every restart (nothing to remember, nothing to average);
// - any other query, or the same query on new data, gets noise independent of
//   it (the key is secret: nobody outside the node can predict or relate draws);
// - the noise does not depend on which patients are in a cell. Noise keyed by
//   the patient set (cell-key, Diffix's sticky noise) makes equal answers an
//   exact test of "is this set the same as that one?": A and A AND NOT x answer
//   alike exactly when nobody in A has x.
import { createHmac } from 'node:crypto';

/** Uniform [0, 1) numbers for one release, one per position. */
export type KeyedNoise = (position: number) => number;

/** What a release's noise is keyed by: its query, the data it read and the noise parameters. */
export interface ReleaseId {
  readonly queryHash: string;
  readonly dataVersion: string;
  /** The policy's noise identity: other parameters draw independently, never the same uniform. */
  readonly noise: string;
}

const TWO_POW_53 = 2 ** 53;

/**
 * The noise stream of one release under a node's secret noise key.
 * @example keyedNoise(key, { queryHash, dataVersion, noise })(0) // 0.7314... (the same every time)
 */
export function keyedNoise(noiseKey: Uint8Array, release: ReleaseId): KeyedNoise {
  if (noiseKey.length < 16) throw new RangeError('noise key must be at least 16 bytes');
  const releaseKey = createHmac('sha256', noiseKey)
    .update(
      JSON.stringify(['tessera-noise-v1', release.noise, release.queryHash, release.dataVersion]),
    )
    .digest();
  return (position) => {
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new RangeError('position must be a whole number >= 0');
    }
    const digest = createHmac('sha256', releaseKey).update(String(position)).digest();
    // 53 random bits: every double in [0, 1) on the 2^-53 grid, uniformly.
    const high = digest.readUInt32BE(0) >>> 11; // 21 bits
    const low = digest.readUInt32BE(4); // 32 bits
    return (high * 2 ** 32 + low) / TWO_POW_53;
  };
}
