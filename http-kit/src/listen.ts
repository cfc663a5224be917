// Binds an app to an address and reports the URL it got (port 0 = any free port).
import type { Server } from 'node:http';
import type { Express } from 'express';

/**
 * Resolves once `app` listens on `host:port`, with the server and its URL.
 * @example const { server, url } = await listen(app, '127.0.0.1', 0); // url: http://127.0.0.1:<port>
 */
export function listen(
  app: Express,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) {
        reject(err);
        return;
      }
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({ server, url: `http://${host}:${bound}` });
    });
  });
}
