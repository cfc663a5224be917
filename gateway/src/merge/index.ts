// Merging node answers: sums with guaranteed ranges, pooled summaries.
export { MAX_NODE_COUNT, mergeResults, type MergeInput } from './merge.ts';
