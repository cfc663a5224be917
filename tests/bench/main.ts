// `npm run bench -- <name> [flags]`: runs one benchmark. Each benchmark is a
// module with `main(argv)`, imported only when asked for, so one benchmark's
// dependencies never load (or fail) for another.
interface Benchmark {
  main(argv: readonly string[]): Promise<void>;
}

const BENCHMARKS: Readonly<Record<string, () => Promise<Benchmark>>> = {
  node: () => import('./node.ts'),
  gateway: () => import('./gateway.ts'),
  fhir: () => import('./fhir.ts'),
  flood: () => import('./flood.ts'),
};

const [name, ...rest] = process.argv.slice(2);
const load = name === undefined ? undefined : BENCHMARKS[name];
if (load === undefined) {
  const names = Object.keys(BENCHMARKS).join(' | ');
  process.stderr.write(`usage: npm run bench -- <${names}> [flags]\n`);
  process.exitCode = 2;
} else {
  const benchmark = await load();
  await benchmark.main(rest);
}
