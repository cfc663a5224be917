// A bar chart (Chart.js) of merged counts: strata of the cohort, or bins of
// a histogram. Cells without a count are left out of the bars and named
// under the chart; the table beside it has every figure.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

export interface Bars {
  readonly labels: readonly string[];
  /**
   * One series per entry: a count as a bar, a cell without a count as a
   * floating bar over its guaranteed range, null where there is nothing.
   */
  readonly series: readonly {
    readonly label: string;
    readonly values: readonly (number | readonly [number, number] | null)[];
    /** Drawn lighter: ranges, not counts. */
    readonly faint?: boolean;
  }[];
}

const COLOURS = ['#1f5f99', '#c45a00', '#2e7d32', '#7b3fa0', '#8a6d00', '#00707a'];

export function BarChart(props: { bars: Bars; title: string; id: string; yLabel: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (canvas.current === null) return undefined;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: [...props.bars.labels],
        datasets: props.bars.series.map((s, i) => ({
          label: s.label,
          data: s.values.map((v) => (Array.isArray(v) ? [v[0], v[1]] : v)) as (
            number | [number, number] | null
          )[],
          backgroundColor: s.faint ? 'rgba(31, 95, 153, 0.25)' : COLOURS[i % COLOURS.length],
          borderColor: COLOURS[i % COLOURS.length],
          borderWidth: s.faint ? 1 : 0,
          grouped: false,
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: true } },
        scales: { y: { beginAtZero: true, title: { display: true, text: props.yLabel } } },
      },
    });
    return () => chart.destroy();
  }, [props.bars, props.yLabel]);
  return (
    <figure class="chart" id={props.id}>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={props.title}>
          {props.title}
        </canvas>
      </div>
      <figcaption>{props.title}</figcaption>
    </figure>
  );
}
