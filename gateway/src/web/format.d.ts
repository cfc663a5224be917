// Types of format.js, the page's figure formatting (plain JavaScript, served as is).
import type { Cell, MergedCell, MergedResult } from '@tessera/schemas';

export function formatCount(n: number): string;
export function formatLevel(confidence: number): string;
export function formatRange(range: readonly [number, number]): string;
export function formatCell(cell: Cell | MergedCell | undefined, confidence?: number): string;
export function cellTitle(cell: Cell | MergedCell | undefined, confidence?: number): string;
export function budgetRows(result: MergedResult): {
  node: string;
  cost: string;
  project: string;
  researcher: string;
  period: string;
}[];
