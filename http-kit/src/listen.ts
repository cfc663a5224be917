// Binds an app to an address and reports the URL it got (port 0 = any free port).
import { type RequestListener, type Server, createServer } from 'node:http';

/**
 * Resolves once `app` (an Express app or any request listener) listens on
 * `host:port`, with the server and its URL.
 * @example const { server, url } = await listen(app, '127.0.0.1', 0); // url: http://127.0.0.1:<port>
 */
export function listen(
  app: RequestListener,
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({ server, url: `http://${host}:${bound}` });
    });
  });
}
