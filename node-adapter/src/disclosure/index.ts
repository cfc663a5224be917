// Disclosure control inside the node: policy, keyed noise, protection of true
// figures, the budget and release decision, the repeat limit, the output check,
// and the policy as the evaluation pipeline's port. Pure: the file ledger is
// in ledger/.
export * from './policy.ts';
export * from './discrete-laplace.ts';
export * from './keyed-noise.ts';
export * from './laplace.ts';
export * from './laplace-release.ts';
export * from './perturbation-table.ts';
export * from './secondary.ts';
export * from './protect.ts';
export * from './output-check.ts';
export * from './budget.ts';
export * from './control.ts';
export * from './repeat-limiter.ts';
