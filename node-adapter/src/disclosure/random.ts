// The production random source for Laplace noise: the operating system's
// CSPRNG, so the noise cannot be predicted from earlier answers. Tests inject
// their own source instead.
import { randomBytes } from 'node:crypto';
import type { RandomSource } from './laplace.ts';

/**
 * A uniform double in [0, 1) with 53 random bits.
 * @example secureRandom() // 0.7316…
 */
export const secureRandom: RandomSource = () => {
  const bytes = randomBytes(8);
  const high = bytes.readUInt32BE(0) >>> 5; // 27 bits
  const low = bytes.readUInt32BE(4) >>> 6; // 26 bits
  return (high * 0x400_0000 + low) / 2 ** 53;
};
