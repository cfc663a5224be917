// The query builder: nested AND / OR / NOT groups of criteria, every
// criterion kind of query v1, stratification, measures and options, each
// field writing straight into the query document.
import type { CatalogueEntry } from '@tessera/schemas';
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type CodeMatch, searchCodes } from '../api/client.ts';
import { t } from '../i18n/index.ts';
import { type Bound, Group, NumberField, RemoveButton, TextField } from './fields.tsx';
import {
  EVENT_KINDS,
  type EventKind,
  type ExprKind,
  GENDERS,
  type Json,
  KNOWN_SYSTEMS,
  PICKS,
  type Path,
  descendantsAllowed,
  exprKind,
  getAt,
  isObject,
  newExpr,
  pointerOf,
} from './model.ts';

const ADDABLE: readonly ExprKind[] = ['patient', ...EVENT_KINDS, 'all', 'any'];

function systemsOf(catalogue: readonly CatalogueEntry[]): { url: string; name: string }[] {
  const systems = [...KNOWN_SYSTEMS];
  for (const entry of catalogue) {
    for (const url of entry.hasCodingSystem) {
      if (!systems.some((s) => s.url === url)) systems.push({ url, name: url });
    }
  }
  return systems;
}

interface Ctx {
  readonly bound: Bound;
  readonly catalogue: readonly CatalogueEntry[];
}

/**
 * The code field's look-up: codes of the system and criterion kind the nodes
 * hold, found by the start of the code or words of its name as the
 * researcher types (the catalogue's code search), offered in a datalist
 * with their names; the chosen code's name is shown below the field.
 */
function CodeLookup(props: {
  listId: string;
  pointer: string;
  kind: EventKind;
  system: string;
  typed: string;
}) {
  const { kind, system } = props;
  const typed = props.typed.trim();
  const [found, setFound] = useState<readonly CodeMatch[]>([]);
  useEffect(() => {
    if (typed === '' || system === '') {
      setFound([]);
      return undefined;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      searchCodes(typed, { system, limit: 20, signal: controller.signal }).then(
        (answer) => setFound(answer.codes.filter((c) => c.kind === kind)),
        () => undefined, // a look-up that fails offers nothing; the field still works
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [typed, system, kind]);
  const chosen = found.find((c) => c.code === typed && c.display !== undefined);
  return (
    <>
      <datalist id={props.listId}>
        {found.map((c) => (
          <option value={c.code} key={c.code}>
            {c.display ?? c.code}
          </option>
        ))}
      </datalist>
      {chosen && (
        <p class="hint code-display" data-display-for={props.pointer}>
          {chosen.display}
        </p>
      )}
    </>
  );
}

/** A list of codings: system, code (with the nodes' codes to pick from by code or name), descendants. */
function CodeSet(props: { ctx: Ctx; path: Path; kind: EventKind; legend: string }) {
  const { ctx, path, kind } = props;
  const { bound } = ctx;
  const set = getAt(bound.doc, path);
  const items = Array.isArray(set) ? set : [];
  const systems = systemsOf(ctx.catalogue);
  return (
    <Group bound={bound} path={path} legend={props.legend} class="codeset">
      {items.map((item, i) => {
        const itemPath = [...path, i];
        const system = isObject(item) && typeof item.system === 'string' ? item.system : '';
        const listId = `codes-${pointerOf(itemPath).replace(/[^a-zA-Z0-9]/g, '-')}`;
        return (
          <div class="coding" key={i}>
            <div class="field">
              <label>
                <span>{t('builder.system')}</span>
                <select
                  data-pointer={pointerOf([...itemPath, 'system'])}
                  value={system}
                  onChange={(e) => {
                    bound.set([...itemPath, 'system'], e.currentTarget.value);
                    if (!descendantsAllowed(e.currentTarget.value))
                      bound.set([...itemPath, 'descendants'], undefined);
                  }}
                >
                  {!systems.some((s) => s.url === system) && (
                    <option value={system}>{system}</option>
                  )}
                  {systems.map((s) => (
                    <option value={s.url} key={s.url}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <TextField
              bound={bound}
              path={[...itemPath, 'code']}
              label={t('builder.code')}
              list={listId}
            />
            <CodeLookup
              listId={listId}
              pointer={pointerOf([...itemPath, 'code'])}
              kind={kind}
              system={system}
              typed={isObject(item) && typeof item.code === 'string' ? item.code : ''}
            />
            {descendantsAllowed(system) && (
              <div class="field check">
                <label>
                  <input
                    type="checkbox"
                    data-pointer={pointerOf([...itemPath, 'descendants'])}
                    checked={isObject(item) && item.descendants === true}
                    onChange={(e) =>
                      bound.set(
                        [...itemPath, 'descendants'],
                        e.currentTarget.checked ? true : undefined,
                      )
                    }
                  />
                  <span>{t('builder.descendants')}</span>
                </label>
              </div>
            )}
            {items.length > 1 && (
              <RemoveButton
                what={t('builder.code')}
                onClick={() => bound.set(itemPath, undefined)}
              />
            )}
          </div>
        );
      })}
      <button
        type="button"
        onClick={() => bound.set([...path, items.length], { system: systems[0]!.url, code: '' })}
      >
        {t('builder.addCode')}
      </button>
    </Group>
  );
}

function RangeFields(props: {
  ctx: Ctx;
  path: Path;
  legend: string;
  lo: string;
  hi: string;
  date?: boolean;
  unit?: boolean;
}) {
  const { ctx, path } = props;
  return (
    <Group bound={ctx.bound} path={path} legend={props.legend} class="range">
      {props.date ? (
        <>
          <TextField
            bound={ctx.bound}
            path={[...path, props.lo]}
            label={t(`builder.${props.lo}`)}
            type="date"
          />
          <TextField
            bound={ctx.bound}
            path={[...path, props.hi]}
            label={t(`builder.${props.hi}`)}
            type="date"
          />
        </>
      ) : (
        <>
          <NumberField
            bound={ctx.bound}
            path={[...path, props.lo]}
            label={t(`builder.${props.lo}`)}
          />
          <NumberField
            bound={ctx.bound}
            path={[...path, props.hi]}
            label={t(`builder.${props.hi}`)}
          />
        </>
      )}
      {props.unit && (
        <TextField
          bound={ctx.bound}
          path={[...path, 'unit']}
          label={t('builder.unit')}
          list="units"
        />
      )}
    </Group>
  );
}

/** An optional part of a criterion: a switch that adds or removes it, and its fields. */
function Optional(props: {
  ctx: Ctx;
  path: Path;
  label: string;
  initial: Json;
  children: ComponentChildren;
}) {
  const present = getAt(props.ctx.bound.doc, props.path) !== undefined;
  return (
    <div class="optional">
      <label class="switch">
        <input
          type="checkbox"
          data-optional={pointerOf(props.path)}
          checked={present}
          onChange={(e) =>
            props.ctx.bound.set(props.path, e.currentTarget.checked ? props.initial : undefined)
          }
        />
        <span>{props.label}</span>
      </label>
      {present && props.children}
    </div>
  );
}

function PatientCriterion(props: { ctx: Ctx; path: Path }) {
  const { ctx, path } = props;
  const { bound } = ctx;
  const genders = getAt(bound.doc, [...path, 'gender']);
  const chosen = Array.isArray(genders) ? genders : [];
  const deceased = getAt(bound.doc, [...path, 'deceased']);
  return (
    <div class="criterion-body">
      <Group bound={bound} path={[...path, 'gender']} legend={t('builder.gender')} class="inline">
        {GENDERS.map((g) => (
          <label class="check" key={g}>
            <input
              type="checkbox"
              checked={chosen.includes(g)}
              onChange={(e) => {
                const next = e.currentTarget.checked
                  ? [...chosen, g]
                  : chosen.filter((x) => x !== g);
                bound.set([...path, 'gender'], next.length > 0 ? next : undefined);
              }}
            />
            <span>{t(`gender.${g}`)}</span>
          </label>
        ))}
      </Group>
      <Optional ctx={ctx} path={[...path, 'age']} label={t('builder.age')} initial={{ min: 18 }}>
        <RangeFields
          ctx={ctx}
          path={[...path, 'age']}
          legend={t('builder.ageYears')}
          lo="min"
          hi="max"
        />
      </Optional>
      <Optional ctx={ctx} path={[...path, 'birthDate']} label={t('builder.birthDate')} initial={{}}>
        <RangeFields
          ctx={ctx}
          path={[...path, 'birthDate']}
          legend={t('builder.birthDate')}
          lo="from"
          hi="to"
          date
        />
      </Optional>
      <div class="field">
        <label>
          <span>{t('builder.deceased')}</span>
          <select
            data-pointer={pointerOf([...path, 'deceased'])}
            value={deceased === true ? 'true' : deceased === false ? 'false' : ''}
            onChange={(e) => {
              const v = e.currentTarget.value;
              bound.set([...path, 'deceased'], v === '' ? undefined : v === 'true');
            }}
          >
            <option value="">{t('builder.either')}</option>
            <option value="true">{t('builder.yes')}</option>
            <option value="false">{t('builder.no')}</option>
          </select>
        </label>
      </div>
    </div>
  );
}

function EventCriterion(props: { ctx: Ctx; path: Path; kind: EventKind }) {
  const { ctx, path, kind } = props;
  return (
    <div class="criterion-body">
      <CodeSet ctx={ctx} path={[...path, 'code']} kind={kind} legend={t('builder.codes')} />
      <Optional ctx={ctx} path={[...path, 'period']} label={t('builder.period')} initial={{}}>
        <RangeFields
          ctx={ctx}
          path={[...path, 'period']}
          legend={t('builder.period')}
          lo="from"
          hi="to"
          date
        />
      </Optional>
      <Optional
        ctx={ctx}
        path={[...path, 'ageAtEvent']}
        label={t('builder.ageAtEvent')}
        initial={{ min: 18 }}
      >
        <RangeFields
          ctx={ctx}
          path={[...path, 'ageAtEvent']}
          legend={t('builder.ageYears')}
          lo="min"
          hi="max"
        />
      </Optional>
      <NumberField
        bound={ctx.bound}
        path={[...path, 'atLeast']}
        label={t('builder.atLeast')}
        step="1"
        min={1}
      />
      {kind === 'observation' && (
        <>
          <Optional
            ctx={ctx}
            path={[...path, 'value']}
            label={t('builder.value')}
            initial={{ unit: '' }}
          >
            <RangeFields
              ctx={ctx}
              path={[...path, 'value']}
              legend={t('builder.value')}
              lo="min"
              hi="max"
              unit
            />
          </Optional>
          <Optional
            ctx={ctx}
            path={[...path, 'valueCode']}
            label={t('builder.valueCode')}
            initial={[{ system: 'http://snomed.info/sct', code: '' }]}
          >
            <CodeSet
              ctx={ctx}
              path={[...path, 'valueCode']}
              kind="observation"
              legend={t('builder.valueCode')}
            />
          </Optional>
        </>
      )}
    </div>
  );
}

function AddExpr(props: { onAdd: (kind: ExprKind) => void; label: string; at: string }) {
  const [kind, setKind] = useState<ExprKind>('condition');
  return (
    <div class="add-expr">
      <label>
        <span>{props.label}</span>
        <select
          value={kind}
          data-add-to={props.at}
          onChange={(e) => setKind(e.currentTarget.value as ExprKind)}
        >
          {ADDABLE.map((k) => (
            <option value={k} key={k}>
              {t(`kind.${k}`)}
            </option>
          ))}
        </select>
      </label>
      <button type="button" data-add-button={props.at} onClick={() => props.onAdd(kind)}>
        {t('builder.add')}
      </button>
    </div>
  );
}

/** One expression: a group, a NOT, or a criterion; groups and NOTs nest. */
function ExprEditor(props: { ctx: Ctx; path: Path; onRemove?: () => void }) {
  const { ctx, path } = props;
  const { bound } = ctx;
  const expr = getAt(bound.doc, path);
  const kind = exprKind(expr);
  const pointer = pointerOf(path);
  if (kind === undefined) {
    return (
      <Group bound={bound} path={path} legend={t('builder.unknownExpr')}>
        <p class="hint">{t('builder.editInJson')}</p>
        {props.onRemove && <RemoveButton what={t('builder.criterion')} onClick={props.onRemove} />}
      </Group>
    );
  }
  const negate = (
    <button type="button" class="negate" onClick={() => bound.set(path, { not: expr! })}>
      {t('builder.negate')}
    </button>
  );
  if (kind === 'all' || kind === 'any') {
    const children = getAt(bound.doc, [...path, kind]);
    const list = Array.isArray(children) ? children : [];
    return (
      <fieldset class={`expr group-${kind}`} data-group={pointer}>
        <legend>
          <label>
            <span class="visually-hidden">{t('builder.combine')}</span>
            <select
              value={kind}
              data-pointer={`${pointer}:op`}
              onChange={(e) => bound.set(path, { [e.currentTarget.value]: list })}
            >
              <option value="all">{t('builder.all')}</option>
              <option value="any">{t('builder.any')}</option>
            </select>
          </label>
        </legend>
        <ol class="children">
          {list.map((_, i) => (
            <li key={i}>
              <ExprEditor
                ctx={ctx}
                path={[...path, kind, i]}
                onRemove={() => bound.set([...path, kind, i], undefined)}
              />
            </li>
          ))}
        </ol>
        <AddExpr
          at={pointer}
          label={t('builder.addTo')}
          onAdd={(k) => bound.set([...path, kind, list.length], newExpr(k))}
        />
        <div class="expr-actions">
          {negate}
          {props.onRemove && <RemoveButton what={t('builder.group')} onClick={props.onRemove} />}
        </div>
        <FieldMessageFor ctx={ctx} pointer={pointer} />
      </fieldset>
    );
  }
  if (kind === 'not') {
    return (
      <fieldset class="expr not" data-group={pointer}>
        <legend>{t('builder.not')}</legend>
        <ExprEditor ctx={ctx} path={[...path, 'not']} />
        <div class="expr-actions">
          <button
            type="button"
            onClick={() => bound.set(path, getAt(bound.doc, [...path, 'not']) ?? null)}
          >
            {t('builder.unNegate')}
          </button>
          {props.onRemove && (
            <RemoveButton what={t('builder.criterion')} onClick={props.onRemove} />
          )}
        </div>
        <FieldMessageFor ctx={ctx} pointer={pointer} />
      </fieldset>
    );
  }
  return (
    <fieldset class={`expr criterion kind-${kind}`} data-group={pointer}>
      <legend>{t(`kind.${kind}`)}</legend>
      {kind === 'patient' ? (
        <PatientCriterion ctx={ctx} path={[...path, 'patient']} />
      ) : (
        <EventCriterion ctx={ctx} path={[...path, kind]} kind={kind} />
      )}
      <div class="expr-actions">
        {negate}
        {props.onRemove && <RemoveButton what={t(`kind.${kind}`)} onClick={props.onRemove} />}
      </div>
      <FieldMessageFor ctx={ctx} pointer={pointer} />
      <FieldMessageFor ctx={ctx} pointer={pointerOf([...path, kind])} />
    </fieldset>
  );
}

function FieldMessageFor(props: { ctx: Ctx; pointer: string }) {
  const { error } = props.ctx.bound;
  if (error?.pointer !== props.pointer || error.detail === undefined) return null;
  return (
    <p class="field-error" data-error-for={props.pointer}>
      {error.detail}
    </p>
  );
}

function Stratify(props: { ctx: Ctx }) {
  const { ctx } = props;
  const { bound } = ctx;
  const dims = getAt(bound.doc, ['stratify']);
  const list = Array.isArray(dims) ? dims : [];
  const has = (name: string): number =>
    list.findIndex((d) => d === name || (isObject(d) && name in d));
  const toggle = (name: string, value: Json, on: boolean): void => {
    const next = on ? [...list, value] : list.filter((_, i) => i !== has(name));
    bound.set(['stratify'], next.length > 0 ? next : undefined);
  };
  const ageIndex = has('ageBand');
  const codesIndex = has('codes');
  const codesOf =
    codesIndex >= 0 ? getAt(bound.doc, ['stratify', codesIndex, 'codes', 'of']) : undefined;
  return (
    <Group bound={bound} path={['stratify']} legend={t('builder.stratify')}>
      <label class="check">
        <input
          type="checkbox"
          checked={has('gender') >= 0}
          onChange={(e) => toggle('gender', 'gender', e.currentTarget.checked)}
        />
        <span>{t('builder.byGender')}</span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          data-dimension="deceased"
          checked={has('deceased') >= 0}
          onChange={(e) => toggle('deceased', 'deceased', e.currentTarget.checked)}
        />
        <span>{t('builder.byDeceased')}</span>
      </label>
      <label class="check">
        <input
          type="checkbox"
          data-dimension="ageBand"
          checked={ageIndex >= 0}
          onChange={(e) =>
            toggle('ageBand', { ageBand: [0, 18, 40, 65, 80] }, e.currentTarget.checked)
          }
        />
        <span>{t('builder.byAgeBand')}</span>
      </label>
      {ageIndex >= 0 && (
        <EdgesField
          ctx={ctx}
          path={['stratify', ageIndex, 'ageBand']}
          label={t('builder.ageEdges')}
        />
      )}
      <label class="check">
        <input
          type="checkbox"
          data-dimension="codes"
          checked={codesIndex >= 0}
          onChange={(e) =>
            toggle(
              'codes',
              { codes: { of: 'condition', in: [{ system: KNOWN_SYSTEMS[0]!.url, code: '' }] } },
              e.currentTarget.checked,
            )
          }
        />
        <span>{t('builder.byCodes')}</span>
      </label>
      {codesIndex >= 0 && (
        <div class="nested">
          <div class="field">
            <label>
              <span>{t('builder.codesOf')}</span>
              <select
                value={typeof codesOf === 'string' ? codesOf : 'condition'}
                onChange={(e) =>
                  bound.set(['stratify', codesIndex, 'codes', 'of'], e.currentTarget.value)
                }
              >
                {EVENT_KINDS.map((k) => (
                  <option value={k} key={k}>
                    {t(`kind.${k}`)}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <CodeSet
            ctx={ctx}
            path={['stratify', codesIndex, 'codes', 'in']}
            kind={(typeof codesOf === 'string' ? codesOf : 'condition') as EventKind}
            legend={t('builder.codes')}
          />
        </div>
      )}
    </Group>
  );
}

/** A list of numbers typed as `0, 18, 40`. */
function EdgesField(props: { ctx: Ctx; path: Path; label: string }) {
  const { bound } = props.ctx;
  const value = getAt(bound.doc, props.path);
  const pointer = pointerOf(props.path);
  const [text, setText] = useState(Array.isArray(value) ? value.map(String).join(', ') : '');
  return (
    <div class="field wide">
      <label>
        <span>{props.label}</span>
        <input
          type="text"
          inputMode="decimal"
          data-pointer={pointer}
          value={text}
          onInput={(e) => {
            const typed = e.currentTarget.value;
            setText(typed);
            const numbers = typed
              .split(/[,;\s]+/)
              .filter((s) => s !== '')
              .map(Number);
            if (numbers.every(Number.isFinite)) bound.set(props.path, numbers);
          }}
        />
      </label>
      <p class="hint">{t('builder.edgesHint')}</p>
    </div>
  );
}

function Measures(props: { ctx: Ctx }) {
  const { ctx } = props;
  const { bound } = ctx;
  const measures = getAt(bound.doc, ['measures']);
  const list = Array.isArray(measures) ? measures : [];
  const add = (m: Json): void =>
    bound.set(['measures'], [...(list.length === 0 ? [{ count: 'patients' }] : list), m]);
  const observation = [{ system: 'http://loinc.org', code: '' }];
  return (
    <Group bound={bound} path={['measures']} legend={t('builder.measures')}>
      {list.length === 0 && <p class="hint">{t('builder.countOnly')}</p>}
      <ol class="measures">
        {list.map((m, i) => {
          const type = isObject(m) ? Object.keys(m)[0] : undefined;
          const remove = (): void => {
            const next = list.filter((_, j) => j !== i);
            bound.set(['measures'], next.length > 0 ? next : undefined);
          };
          if (type === 'count') {
            return (
              <li key={i} class="measure">
                <span>{t('builder.countMeasure')}</span>
                <RemoveButton what={t('builder.countMeasure')} onClick={remove} />
              </li>
            );
          }
          if (type !== 'histogram' && type !== 'summary') {
            return (
              <li key={i}>
                <p class="hint">{t('builder.editInJson')}</p>
              </li>
            );
          }
          const base = ['measures', i, type];
          const pick = getAt(bound.doc, [...base, 'pick']);
          return (
            <li key={i} class="measure">
              <Group bound={bound} path={base} legend={t(`builder.${type}`)}>
                <CodeSet
                  ctx={ctx}
                  path={[...base, 'observation']}
                  kind="observation"
                  legend={t('builder.observationCodes')}
                />
                <TextField
                  bound={bound}
                  path={[...base, 'unit']}
                  label={t('builder.unit')}
                  list="units"
                />
                {type === 'histogram' && (
                  <EdgesField ctx={ctx} path={[...base, 'edges']} label={t('builder.binEdges')} />
                )}
                <div class="field">
                  <label>
                    <span>{t('builder.pick')}</span>
                    <select
                      value={typeof pick === 'string' ? pick : 'latest'}
                      onChange={(e) => bound.set([...base, 'pick'], e.currentTarget.value)}
                    >
                      {PICKS.map((p) => (
                        <option value={p} key={p}>
                          {t(`pick.${p}`)}
                        </option>
                      ))}
                    </select>
                  </label>
                </div>
                <Optional
                  ctx={ctx}
                  path={[...base, 'period']}
                  label={t('builder.period')}
                  initial={{}}
                >
                  <RangeFields
                    ctx={ctx}
                    path={[...base, 'period']}
                    legend={t('builder.period')}
                    lo="from"
                    hi="to"
                    date
                  />
                </Optional>
                <RemoveButton what={t(`builder.${type}`)} onClick={remove} />
              </Group>
            </li>
          );
        })}
      </ol>
      <div class="row">
        <button
          type="button"
          onClick={() =>
            add({ histogram: { observation, unit: '', edges: [0, 5, 10], pick: 'latest' } })
          }
        >
          {t('builder.addHistogram')}
        </button>
        <button
          type="button"
          onClick={() => add({ summary: { observation, unit: '', pick: 'latest' } })}
        >
          {t('builder.addSummary')}
        </button>
      </div>
    </Group>
  );
}

function Options(props: { ctx: Ctx; nodes: readonly string[] }) {
  const { ctx } = props;
  const { bound } = ctx;
  const chosen = getAt(bound.doc, ['nodes']);
  const list = Array.isArray(chosen) ? chosen : [];
  return (
    <Group bound={bound} path={[]} legend={t('builder.options')}>
      <TextField bound={bound} path={['label']} label={t('builder.label')} wide />
      <TextField bound={bound} path={['asOf']} label={t('builder.asOf')} type="date" />
      {props.nodes.length > 0 && (
        <Group bound={bound} path={['nodes']} legend={t('builder.nodes')} class="inline">
          <p class="hint">{t('builder.nodesHint')}</p>
          {props.nodes.map((n) => (
            <label class="check" key={n}>
              <input
                type="checkbox"
                checked={list.includes(n)}
                onChange={(e) => {
                  const next = e.currentTarget.checked ? [...list, n] : list.filter((x) => x !== n);
                  bound.set(['nodes'], next.length > 0 ? next : undefined);
                }}
              />
              <span>{n}</span>
            </label>
          ))}
        </Group>
      )}
    </Group>
  );
}

/** The whole builder over one query document. */
export function Builder(props: { bound: Bound; catalogue: readonly CatalogueEntry[] }) {
  const ctx: Ctx = { bound: props.bound, catalogue: props.catalogue };
  const { bound } = ctx;
  const cohort = getAt(bound.doc, ['cohort']);
  const rootKind = exprKind(cohort);
  return (
    <div class="builder">
      <section aria-labelledby="cohort-h" class="cohort">
        <h3 id="cohort-h">{t('builder.cohort')}</h3>
        {cohort === undefined ? (
          <AddExpr
            at="/cohort"
            label={t('builder.start')}
            onAdd={(k) => bound.set(['cohort'], newExpr(k))}
          />
        ) : (
          <>
            <ExprEditor
              ctx={ctx}
              path={['cohort']}
              onRemove={() => bound.set(['cohort'], undefined)}
            />
            {rootKind !== 'all' && rootKind !== 'any' && (
              <AddExpr
                at="/cohort:and"
                label={t('builder.addAnd')}
                onAdd={(k) => bound.set(['cohort'], { all: [cohort, newExpr(k)] })}
              />
            )}
          </>
        )}
      </section>
      <Stratify ctx={ctx} />
      <Measures ctx={ctx} />
      <Options ctx={ctx} nodes={props.catalogue.map((e) => e.node)} />
      <datalist id="units">
        {['%', 'mg/dL', 'mmol/L', 'mmol/mol', 'kg', 'kg/m2', 'cm', 'mm[Hg]', '/min'].map((u) => (
          <option value={u} key={u} />
        ))}
      </datalist>
    </div>
  );
}
