// Waiting on a shared AbortSignal. One evaluation's searches run in parallel
// under one signal, and each that sleeps before a retry, or waits for the
// shared Patient read, would add an 'abort' listener of its own: past ten at
// once Node warns of a leak (MaxListenersExceededWarning), and a listener
// never removed does leak. Here a signal gets one listener however many
// wait on it, and it is removed when the last of them stops waiting.

type Callback = () => void;

const waiting = new WeakMap<
  AbortSignal,
  { readonly callbacks: Set<Callback>; readonly listener: Callback }
>();

/**
 * Calls `callback` once when `signal` aborts; the returned function stops
 * waiting. Shares one listener per signal.
 * @example const stop = onAbort(signal, () => clearTimeout(timer)); ...; stop();
 */
export function onAbort(signal: AbortSignal, callback: Callback): () => void {
  let entry = waiting.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<Callback>();
    const listener = (): void => {
      waiting.delete(signal);
      for (const c of callbacks) c();
    };
    entry = { callbacks, listener };
    waiting.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks } = entry;
  const wrapped = (): void => callback();
  callbacks.add(wrapped);
  return () => {
    if (!callbacks.delete(wrapped) || callbacks.size > 0) return;
    const current = waiting.get(signal);
    if (current?.callbacks !== callbacks) return;
    waiting.delete(signal);
    signal.removeEventListener('abort', current.listener);
  };
}

/**
 * Waits `ms`; rejects with `reason(signal)` as soon as `signal` aborts.
 * @example await sleep(250, signal, () => new Error('cancelled'));
 */
export function sleep(
  ms: number,
  signal: AbortSignal | undefined,
  reason: (signal: AbortSignal) => Error,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(reason(signal));
    let stop = (): void => undefined;
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
    if (signal !== undefined) {
      stop = onAbort(signal, () => {
        clearTimeout(timer);
        reject(reason(signal));
      });
    }
  });
}
