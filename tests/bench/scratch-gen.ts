import { generateRegion } from '../../node-adapter/src/generate/index.ts';
const r = await generateRegion({ region: 'sachsen', patients: 10000, seed: 1, outDir: '.data/bench/scratch/ndjson' });
console.log(JSON.stringify(r, null, 1));
console.log(process.memoryUsage().rss / 1e6);
