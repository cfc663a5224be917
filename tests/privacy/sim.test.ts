import { it } from 'vitest';
import type { Cell } from '@tessera/schemas';
import { CountInference, noisePmf, type Mechanism } from './inference.ts';

const m: Mechanism = { kind: 'laplace', threshold: 10, maxNoise: 39, rounding: 1, epsilon: 0.5 };
const pmf = noisePmf(m);
const ks = [...pmf.keys()].sort((a, b) => a - b);
const cdf: number[] = []; let acc = 0; for (const k of ks) { acc += pmf.get(k)!; cdf.push(acc); }
const draw = () => { const u = Math.random() * acc; let i = 0; while (cdf[i]! <= u) i++; return ks[i]!; };
const cell = (t: number): Cell => { const x = t + draw(); return x >= 10 ? { count: x, perturbed: true, range: [Math.max(0, x - 39), x + 39] } : { suppressed: true, range: [0, 48] }; };
function walk(c: number) { const inf = new CountInference(); let q = 0; let first = true;
  while (q < 40) { for (let j = first ? 0 : 1; j <= 30 && q < 40; j++) { q++; const x = cell(c + j); inf.observe(x, j, m); if ('count' in x) break; } first = false; }
  return inf.guess; }

it('sim', () => {
  const samples = new Map<number, number[]>();
  for (const c of [1, 3, 4, 5, 7, 8, 9]) {
    const s: number[] = [];
    for (let t = 0; t < 300; t++) s.push(walk(c).probability);
    samples.set(c, s);
    console.log(c, (s.reduce((a, b) => a + b, 0) / s.length).toFixed(3));
  }
  for (const [name, mix] of [['12', [9, 8, 1, 8, 9, 7, 1, 5, 5, 5, 4, 3]], ['6 near', [9, 9, 9, 9, 9, 9]]] as const) {
    let over = 0; let over99 = 0; const R = 200000;
    for (let r = 0; r < R; r++) {
      let sum = 0;
      for (const c of mix) { const s = samples.get(c)!; sum += s[Math.floor(Math.random() * s.length)]!; }
      if (sum / mix.length > 0.9) over++;
      if (sum / mix.length >= 0.99) over99++;
    }
    console.log(name, 'P(mean>0.9)', over / R, 'P(mean>=0.99)', over99 / R);
  }
}, 600_000);
