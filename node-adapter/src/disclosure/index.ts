// Disclosure control inside the node: policy, protection of true figures,
// the Laplace budget, the repeat limit and the output check.
export * from './policy.ts';
export * from './perturbation-table.ts';
export * from './laplace.ts';
export * from './secondary.ts';
export * from './protect.ts';
export * from './output-check.ts';
export * from './budget-ledger.ts';
export * from './repeat-limiter.ts';
