// Disclosure control inside the node: policy, keyed noise, protection of true
// figures, the release ledger and its budget, the repeat limit and the output check.
export * from './policy.ts';
export * from './discrete-laplace.ts';
export * from './keyed-noise.ts';
export * from './laplace.ts';
export * from './laplace-release.ts';
export * from './perturbation-table.ts';
export * from './secondary.ts';
export * from './protect.ts';
export * from './output-check.ts';
export * from './budget-ledger.ts';
export * from './repeat-limiter.ts';
