// Form fields bound to one place in the query document: each shows the
// message of a check that points at it (or below it), and says so to
// assistive technology (aria-invalid, aria-describedby).
import type { ComponentChildren } from 'preact';
import { t } from '../i18n/index.ts';
import { type Json, type Path, errorFor, getAt, pointerOf } from './model.ts';

/** What a field needs from the builder: the document, a way to change it, the current faults. */
export interface Bound {
  readonly doc: Json;
  readonly set: (path: Path, value: Json | undefined) => void;
  readonly error: { pointer?: string; detail?: string } | undefined;
  /** Pointer → message for codings no node holds. */
  readonly warnings: ReadonlyMap<string, string>;
}

const idOf = (pointer: string): string => `f${pointer.replace(/[^a-zA-Z0-9]/g, '-')}`;

export function FieldMessage(props: { bound: Bound; pointer: string; leaf: boolean }) {
  const { bound, pointer, leaf } = props;
  const error = errorFor(bound.error, pointer, leaf) ? bound.error?.detail : undefined;
  const warning = bound.warnings.get(pointer);
  if (error === undefined && warning === undefined) return null;
  return (
    <>
      {error !== undefined && (
        <p class="field-error" id={`${idOf(pointer)}-error`} data-error-for={pointer}>
          {error}
        </p>
      )}
      {warning !== undefined && (
        <p class="field-warning" id={`${idOf(pointer)}-warning`} data-warning-for={pointer}>
          {warning}
        </p>
      )}
    </>
  );
}

function describedBy(bound: Bound, pointer: string): string | undefined {
  const ids = [];
  if (errorFor(bound.error, pointer, true)) ids.push(`${idOf(pointer)}-error`);
  if (bound.warnings.has(pointer)) ids.push(`${idOf(pointer)}-warning`);
  return ids.length > 0 ? ids.join(' ') : undefined;
}

interface FieldProps {
  readonly bound: Bound;
  readonly path: Path;
  readonly label: string;
}

/** A text input; an empty field removes the key. */
export function TextField(
  props: FieldProps & {
    type?: 'text' | 'date';
    list?: string;
    placeholder?: string;
    wide?: boolean;
  },
) {
  const { bound, path, label } = props;
  const pointer = pointerOf(path);
  const value = getAt(bound.doc, path);
  return (
    <div class={props.wide ? 'field wide' : 'field'}>
      <label>
        <span>{label}</span>
        <input
          type={props.type ?? 'text'}
          data-pointer={pointer}
          value={typeof value === 'string' ? value : ''}
          list={props.list}
          placeholder={props.placeholder}
          aria-invalid={
            errorFor(bound.error, pointer, true) || bound.warnings.has(pointer) ? 'true' : undefined
          }
          aria-describedby={describedBy(bound, pointer)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            bound.set(path, text === '' ? undefined : text);
          }}
        />
      </label>
      <FieldMessage bound={bound} pointer={pointer} leaf />
    </div>
  );
}

/** A number input; an empty field removes the key, text that is no number is kept out. */
export function NumberField(props: FieldProps & { step?: string; min?: number }) {
  const { bound, path, label } = props;
  const pointer = pointerOf(path);
  const value = getAt(bound.doc, path);
  return (
    <div class="field narrow">
      <label>
        <span>{label}</span>
        <input
          type="number"
          inputMode="decimal"
          step={props.step ?? 'any'}
          min={props.min}
          data-pointer={pointer}
          value={typeof value === 'number' ? String(value) : ''}
          aria-invalid={errorFor(bound.error, pointer, true) ? 'true' : undefined}
          aria-describedby={describedBy(bound, pointer)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            const n = Number(text);
            if (text === '') bound.set(path, undefined);
            else if (Number.isFinite(n)) bound.set(path, n);
          }}
        />
      </label>
      <FieldMessage bound={bound} pointer={pointer} leaf />
    </div>
  );
}

/** A group of fields with a legend, and the messages that point at the group itself. */
export function Group(props: {
  bound: Bound;
  path: Path;
  legend: string;
  children: ComponentChildren;
  class?: string;
}) {
  const pointer = pointerOf(props.path);
  return (
    <fieldset class={props.class ?? 'group'} data-group={pointer}>
      <legend>{props.legend}</legend>
      {props.children}
      <FieldMessage bound={props.bound} pointer={pointer} leaf={false} />
    </fieldset>
  );
}

export function RemoveButton(props: { onClick: () => void; what: string }) {
  return (
    <button
      type="button"
      class="remove"
      onClick={props.onClick}
      aria-label={t('builder.removeWhat', { what: props.what })}
    >
      {t('builder.remove')}
    </button>
  );
}
