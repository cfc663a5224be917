// The researcher CLI's side of the gateway API: where the gateway is, which
// token to send, and every failure turned into a one-line message with the
// CLI's exit code (never a stack trace).
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { credentialsPath, loadCredential } from './credentials.ts';

/** The CLI's exit codes. */
export const EXIT = Object.freeze({
  /** Done, and every node answered. */
  ok: 0,
  /** Anything else that went wrong: the gateway unreachable, a failed job, a server error. */
  error: 1,
  /** Refused or invalid: the gateway's problem (4xx), or misuse of the command. */
  refused: 2,
  /** Done, but some node did not answer: the figures cover the others only. */
  incomplete: 3,
});

/** A failure the CLI reports as one line and an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const CONNECTION_OPTIONS = {
  gateway: { type: 'string' as const },
  token: { type: 'string' as const },
  'token-file': { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

export const CONNECTION_HELP = `  --gateway <url>       the gateway (default $TESSERA_GATEWAY or http://127.0.0.1:8080)
  --token <jwt>         an access token (or --token-file <file>, or $TESSERA_TOKEN);
                        default the one \`tessera login\` saved for this gateway`;

export interface ConnectionOptions {
  readonly gateway?: string | undefined;
  readonly token?: string | undefined;
  readonly 'token-file'?: string | undefined;
}

/** The gateway's URL without a trailing slash. */
export function gatewayUrl(values: ConnectionOptions): string {
  const url = values.gateway ?? process.env.TESSERA_GATEWAY ?? 'http://127.0.0.1:8080';
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError();
  } catch {
    throw new CliError(`"${url}" is not an http(s) URL`, EXIT.refused);
  }
  return url.replace(/\/+$/, '');
}

export interface Gateway {
  readonly url: string;
  /** Sends a request with the researcher's token; throws CliError for anything but 2xx. */
  call(
    path: string,
    init?: {
      readonly method?: 'GET' | 'POST' | 'DELETE';
      readonly headers?: Record<string, string>;
      readonly body?: string;
    },
  ): Promise<{ readonly status: number; readonly text: string }>;
  /** The same, parsed as JSON. */
  json<T>(path: string, init?: Parameters<Gateway['call']>[1]): Promise<T>;
  /** The raw response, for a stream the caller reads (its status already checked). */
  stream(path: string): Promise<AsyncIterable<Buffer>>;
}

async function tokenOf(values: ConnectionOptions, url: string): Promise<string | undefined> {
  if (values.token !== undefined) return values.token;
  if (values['token-file'] !== undefined) {
    const file = values['token-file'];
    return (await readFileOrFail(file)).trim();
  }
  if (process.env.TESSERA_TOKEN) return process.env.TESSERA_TOKEN;
  const saved = await loadCredential(credentialsPath(), url);
  if (saved === undefined) return undefined;
  if (saved.expiresAt * 1000 <= Date.now()) {
    throw new CliError(
      `your sign-in to ${url} has expired; run \`tessera login --gateway ${url}\``,
      EXIT.refused,
    );
  }
  return saved.accessToken;
}

/** A file's text, or a one-line CliError naming it. */
export async function readFileOrFail(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : 'unreadable';
    throw new CliError(`cannot read ${path}: ${why}`, EXIT.refused);
  }
}

/** A problem+json answer as one line, with the exit code its status means. */
export function problemError(status: number, body: string, url: string): CliError {
  const exitCode = status >= 400 && status < 500 ? EXIT.refused : EXIT.error;
  let problem: { code?: unknown; title?: unknown; detail?: unknown; pointer?: unknown } = {};
  try {
    problem = JSON.parse(body) as typeof problem;
  } catch {
    // Not a problem document: the status says all we can.
  }
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const code = text(problem.code);
  const message = text(problem.detail) ?? text(problem.title) ?? `the gateway answered ${status}`;
  const hint = status === 401 ? ` (run \`tessera login --gateway ${url}\`)` : '';
  return new CliError(
    `${status}${code ? ` ${code}` : ''}${text(problem.pointer) ? ` at ${text(problem.pointer)}` : ''}: ${message}${hint}`,
    exitCode,
  );
}

/** Connects to the gateway the options name, with the token they (or the saved sign-in) give. */
export async function connect(values: ConnectionOptions): Promise<Gateway> {
  const url = gatewayUrl(values);
  const token = await tokenOf(values, url);
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};

  async function send(path: string, init: Parameters<Gateway['call']>[1] = {}) {
    try {
      return await request(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: { ...auth, ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body }),
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new CliError(
        `cannot reach the gateway at ${url}${code ? ` (${code})` : ''}`,
        EXIT.error,
      );
    }
  }

  const gateway: Gateway = {
    url,
    async call(path, init) {
      const response = await send(path, init);
      const text = await response.body.text();
      if (response.statusCode >= 400) throw problemError(response.statusCode, text, url);
      return { status: response.statusCode, text };
    },
    async json<T>(path: string, init?: Parameters<Gateway['call']>[1]) {
      const { text } = await gateway.call(path, init);
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new CliError(`the gateway sent something that is not JSON`, EXIT.error);
      }
    },
    async stream(path) {
      const response = await send(path, { headers: { accept: 'text/event-stream' } });
      if (response.statusCode >= 400) {
        throw problemError(response.statusCode, await response.body.text(), url);
      }
      return response.body;
    },
  };
  return gateway;
}
