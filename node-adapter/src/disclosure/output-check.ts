// The node's own output check (threat 14): the last thing an answer passes
// before it leaves. Three independent nets, so a bug in one layer cannot leak:
// the NodeResult JSON Schema; a walk that accepts only keys the schema names
// at that place (whatever `additionalProperties` says) and only plain finite
// data; and the disclosure rule itself, that no released count lies in
// 1..threshold-1.
import { type Cell, type NodeResult, isValid } from '@tessera/schemas';
import nodeResultSchema from '@tessera/schemas/json/node-result.schema.json' with { type: 'json' };
import { nodeProblem } from '../errors.ts';

/** The parts of a JSON Schema the walk reads. */
interface SchemaNode {
  readonly $ref?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly oneOf?: readonly SchemaNode[];
  readonly anyOf?: readonly SchemaNode[];
  readonly allOf?: readonly SchemaNode[];
  readonly $defs?: Readonly<Record<string, SchemaNode>>;
}

const ROOT = nodeResultSchema as unknown as SchemaNode;

function rejected(pointer: string, detail: string): Error {
  // The pointer stops at the parent: a stray key may itself be an identifier.
  return nodeProblem('ERR_OUTPUT_REJECTED', { pointer, detail });
}

function resolve(node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node;
  const name = /^#\/\$defs\/([^/]+)$/.exec(node.$ref)?.[1];
  const target = name === undefined ? undefined : ROOT.$defs?.[name];
  if (!target) throw new Error(`unresolvable $ref ${node.$ref}`);
  return resolve(target);
}

/** A schema node with its oneOf/anyOf/allOf branches, flattened. */
function branches(node: SchemaNode): SchemaNode[] {
  const n = resolve(node);
  return [n, ...[...(n.oneOf ?? []), ...(n.anyOf ?? []), ...(n.allOf ?? [])].flatMap(branches)];
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Walks a value beside its schema; rejects any key the schema does not name there. */
function walk(value: unknown, schemas: readonly SchemaNode[], pointer: string): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw rejected(pointer, 'number is not finite');
      return;
    case 'object':
      break;
    default:
      throw rejected(pointer, `${typeof value} is not JSON data`);
  }
  if (value === null) return;
  const all = schemas.flatMap(branches);
  if (Array.isArray(value)) {
    const items = all.flatMap((s) => (s.items ? [s.items] : []));
    if (items.length === 0) throw rejected(pointer, 'array where the schema has none');
    if (Object.keys(value).length !== value.length)
      throw rejected(pointer, 'array with extra keys');
    value.forEach((item, i) => walk(item, items, `${pointer}/${i}`));
    return;
  }
  if (!isPlainObject(value)) throw rejected(pointer, 'not a plain object');
  if (Object.getOwnPropertySymbols(value).length > 0) throw rejected(pointer, 'symbol key');
  for (const key of Object.getOwnPropertyNames(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (!('value' in descriptor)) throw rejected(pointer, 'accessor property');
    const children = all.flatMap((s) => {
      const child =
        s.properties && Object.hasOwn(s.properties, key) ? s.properties[key] : undefined;
      return child ? [child] : [];
    });
    if (children.length === 0) throw rejected(pointer, 'key not in the NodeResult schema');
    walk(descriptor.value, children, `${pointer}/${key}`);
  }
}

/** Every Cell of a NodeResult with its pointer. */
function cellsOf(result: NodeResult): [Cell, string][] {
  const cells: [Cell, string][] = [[result.total, '/total']];
  result.strata.forEach((s, i) => cells.push([s.cell, `/strata/${i}/cell`]));
  result.measures.forEach((m, i) => {
    if (m.type === 'histogram') {
      m.bins.forEach((b, j) => cells.push([b.cell, `/measures/${i}/bins/${j}/cell`]));
      cells.push([m.missing, `/measures/${i}/missing`]);
    } else if (m.type === 'summary') {
      cells.push([m.n, `/measures/${i}/n`]);
    }
  });
  return cells;
}

/**
 * Rejects (ERR_OUTPUT_REJECTED) anything that is not a releasable NodeResult:
 * not schema-valid, a key the schema does not name, non-plain or non-finite
 * data, or a released count below the stated threshold.
 * @example assertReleasable(result) // throws on { ...result, patientIds: [...] }
 */
export function assertReleasable(result: unknown): asserts result is NodeResult {
  walk(result, [ROOT], '');
  if (!isValid('node-result', result)) {
    throw rejected('', 'not a valid NodeResult');
  }
  const { threshold, mechanism } = result.disclosure;
  if (mechanism === 'none') return;
  for (const [cell, pointer] of cellsOf(result)) {
    // Zeros too: every mechanism but `none` suppresses or noises them.
    if ('count' in cell && cell.count < threshold) {
      throw rejected(pointer, 'released count below the threshold');
    }
  }
}
