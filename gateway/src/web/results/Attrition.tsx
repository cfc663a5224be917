// How the cohort shrinks as each criterion of an AND is added: each step is
// a query of its own, submitted like any other (it is protected, costs
// budget where new, and counts against the researcher's limits).
import type { MergedResult } from '@tessera/schemas';
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.ts';
import { type Json, type JsonObject, attritionSteps } from '../builder/model.ts';
import { language, t } from '../i18n/index.ts';
import { formatCell } from './format.ts';

interface Step {
  readonly query: JsonObject;
  readonly result?: MergedResult;
  readonly error?: string;
}

function describe(expr: Json | undefined): string {
  if (typeof expr !== 'object' || expr === null || Array.isArray(expr)) return '';
  const [kind] = Object.keys(expr);
  return kind === undefined ? '' : t(`kind.${kind}`, { defaultValue: kind });
}

export function Attrition(props: { api: Api; query: Json; onError: (err: unknown) => void }) {
  const steps = attritionSteps(props.query);
  const [rows, setRows] = useState<Step[] | undefined>();
  const [running, setRunning] = useState(false);
  if (steps.length === 0) return null;
  const run = async (): Promise<void> => {
    setRunning(true);
    const done: Step[] = [];
    setRows([]);
    try {
      for (const query of steps) {
        let job = await props.api.submit(query, true);
        if (job.status !== 'done' && job.status !== 'failed' && job.status !== 'cancelled') {
          job = await props.api.follow(job.id, { node: () => undefined });
        }
        done.push(
          job.result ? { query, result: job.result } : { query, error: job.error ?? job.status },
        );
        setRows([...done]);
      }
    } catch (err) {
      props.onError(err);
    } finally {
      setRunning(false);
    }
  };
  const children = (steps[steps.length - 1]!.cohort as { all: Json[] }).all;
  return (
    <section class="card" aria-labelledby="attrition-h" id="attrition">
      <h3 id="attrition-h">{t('attrition.title')}</h3>
      <p class="hint">{t('attrition.hint', { steps: steps.length })}</p>
      <button type="button" id="run-attrition" onClick={() => void run()} disabled={running}>
        {t('attrition.run')}
      </button>
      {rows && (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="attrition-h">
          <table id="attrition-table">
            <thead>
              <tr>
                <th scope="col">{t('attrition.step')}</th>
                <th scope="col">{t('attrition.added')}</th>
                <th scope="col">{t('results.merged')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={i}>
                  <th scope="row">{i + 1}</th>
                  <td>{describe(children[i])}</td>
                  <td class="num">
                    {row.result ? formatCell(row.result.total, language()) : row.error}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
