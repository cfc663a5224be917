// The gateway process's last line of defence. A rejection nobody handled or
// an exception nobody caught means some state may now be wrong; rather than
// let Node end the process without a word (or keep serving on bad state),
// the fault is logged, and the process stops in order and exits non-zero so
// that its supervisor (systemd, Kubernetes) starts a fresh one. Installed by
// the process entry (`serve`), never by library code: a library must not
// decide that its host process should exit.
import type { Logger } from 'pino';

export type ProcessFault = 'unhandledRejection' | 'uncaughtException';

export interface ProcessFaultOptions {
  readonly logger: Logger;
  /**
   * Begins the orderly stop with this exit code: readiness false, the server
   * closed, the gateway closed. Called once, at the first fault.
   */
  readonly stop: (exitCode: number) => void;
  /** Ends the process when the orderly stop has not within `graceMs`. Default process.exit. */
  readonly exit?: (exitCode: number) => void;
  /** Default 15 s: long enough for in-flight fan-outs to be cancelled and the store closed. */
  readonly graceMs?: number;
}

/** The exit code of a gateway stopped by a fault. */
export const FAULT_EXIT_CODE = 1;

/**
 * Installs the handlers on `target` (the process); returns a function that removes them.
 * @example exitOnProcessFaults(process, { logger, stop: (code) => shutdown(code) });
 */
export function exitOnProcessFaults(
  target: NodeJS.EventEmitter,
  options: ProcessFaultOptions,
): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let faulted = false;
  const handle =
    (fault: ProcessFault) =>
    (err: unknown): void => {
      // Every fault is logged, also those that come while stopping.
      options.logger.fatal({ fault, err }, 'process fault: stopping the gateway');
      if (faulted) return;
      faulted = true;
      // Unref'd: an orderly stop that finishes first lets the process end by itself.
      setTimeout(() => exit(FAULT_EXIT_CODE), options.graceMs ?? 15_000).unref();
      options.stop(FAULT_EXIT_CODE);
    };
  const onRejection = handle('unhandledRejection');
  const onException = handle('uncaughtException');
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return () => {
    target.off('unhandledRejection', onRejection);
    target.off('uncaughtException', onException);
  };
}
