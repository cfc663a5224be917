// JSON with a name twice in one object (threat 50). JSON.parse keeps the last
// value, so a reviewer who reads the first `cohort` and a service that
// evaluates the second would disagree about what was asked. JSON.parse cannot
// report duplicates, so the text is parsed by it first (which settles that it
// is valid JSON) and then scanned once, here, for duplicate names.
import { pointerToken } from '../problem.ts';

type Frame =
  | { readonly kind: 'object'; readonly names: Set<string>; name: string; expectName: boolean }
  | { readonly kind: 'array'; index: number };

/**
 * The JSON pointer of the first name repeated within one object of `text`,
 * or undefined when there is none. `text` must be valid JSON (parse it
 * first): the scan relies on that. Names are compared after unescaping, so
 * `"a"` and `"\u0061"` are the same name.
 * @example duplicateKeyPointer('{"a":{"b":1,"b":2}}') // '/a/b'
 */
export function duplicateKeyPointer(text: string): string | undefined {
  const stack: Frame[] = [];
  // The tokens leading to the innermost open container (one fewer than the stack).
  const path: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c /* \ */ ? 2 : 1;
      const top = stack.at(-1);
      if (top?.kind === 'object' && top.expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.names.has(name)) return [...path, name].map((t) => `/${pointerToken(t)}`).join('');
        top.names.add(name);
        top.name = name;
        top.expectName = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const top = stack.at(-1);
      if (top !== undefined) path.push(top.kind === 'object' ? top.name : String(top.index));
      stack.push(
        c === 0x7b
          ? { kind: 'object', names: new Set(), name: '', expectName: true }
          : { kind: 'array', index: 0 },
      );
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      if (stack.length > 0) path.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top?.kind === 'object') top.expectName = true;
      else if (top !== undefined) top.index += 1;
    }
    i += 1;
  }
  return undefined;
}

/** Thrown by {@link parseJsonText} for a name repeated in one object. */
export class DuplicateKeyError extends SyntaxError {
  readonly pointer: string;
  constructor(pointer: string) {
    super(`duplicate name at ${pointer || '/'}`);
    this.name = 'DuplicateKeyError';
    this.pointer = pointer;
  }
}

/**
 * JSON.parse that refuses a name repeated in one object.
 * @throws SyntaxError for invalid JSON; DuplicateKeyError (with `pointer`) for a duplicate name.
 * @example parseJsonText('{"a":1,"a":2}') // throws DuplicateKeyError, pointer '/a'
 */
export function parseJsonText(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  const pointer = duplicateKeyPointer(text);
  if (pointer !== undefined) throw new DuplicateKeyError(pointer);
  return value;
}
