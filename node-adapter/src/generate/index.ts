// Public surface of the synthetic region generator.
export { DEFAULT_REFERENCE_DATE, generateRegion, WINDOW_YEARS } from './generate.ts';
export type { GenerateOptions, GenerateReport } from './generate.ts';
export { isRegionId, REGION_IDS, REGIONS } from './regions.ts';
export type { RegionId, RegionProfile } from './regions.ts';
export { createRng } from './prng.ts';
export type { Rng } from './prng.ts';
