// Reading a node's response body without trusting its size: the cap is
// enforced on the declared length first and then while streaming, and the
// stream is destroyed the moment it is exceeded, so at most the cap plus one
// chunk is ever held in memory whatever the node sends.
import type { Dispatcher } from 'undici';

export type ResponseBody = Dispatcher.ResponseData['body'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The body as UTF-8 text, or undefined when it is longer than `maxBytes`
 * or is not valid UTF-8. Rejects when the stream fails (reset, abort).
 * @example const text = await readText(res.body, res.headers, 1 << 20);
 */
export async function readText(
  body: ResponseBody,
  headers: Dispatcher.ResponseData['headers'],
  maxBytes: number,
): Promise<string | undefined> {
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    body.destroy();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  try {
    return utf8.decode(Buffer.concat(chunks, size));
  } catch {
    return undefined;
  }
}

/** Drops a body we do not read, keeping the connection when it is short. */
export async function discard(body: ResponseBody): Promise<void> {
  try {
    await body.dump({ limit: 64 * 1024 });
  } catch {
    // The connection is gone either way; nothing from it is kept.
  }
}
