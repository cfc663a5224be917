// A stand-in for a node adapter that misbehaves, run as its own process by the
// fault tests: it is healthy on /readyz, but on POST /v1/evaluate it either
// never answers (`hang`: threats 26 and 31) or dies abruptly once the request
// is in (`die`: threat 25). Each evaluate request is reported on stdout as
// `evaluate <n>`, so a test knows the request reached it.
//
//   node --import tsx tests/support/stand-in-node.ts --port <port> --mode hang|die
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, mode: { type: 'string', default: 'hang' } },
});
const port = Number(values.port);
const mode = values.mode;
if (!Number.isInteger(port) || port <= 0 || (mode !== 'hang' && mode !== 'die')) {
  console.error('usage: stand-in-node --port <port> --mode hang|die');
  process.exit(2);
}

let evaluations = 0;

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
  if (req.method === 'GET' && (path === '/readyz' || path === '/healthz')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ status: 'ready', dataVersion: `stand-in-${mode}`, dataAgeSeconds: 0 }),
    );
    return;
  }
  if (req.method === 'POST' && path === '/v1/evaluate') {
    req.resume();
    req.once('end', () => {
      evaluations += 1;
      process.stdout.write(`evaluate ${evaluations}\n`, () => {
        // SIGKILL: no goodbye on the socket beyond what the kernel sends.
        if (mode === 'die') process.kill(process.pid, 'SIGKILL');
      });
      // `hang`: the request is never answered; the socket stays open.
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'Not found', status: 404 }));
});
// Hanging requests must not be cut off by the server's own time-outs.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 60_000;

server.listen(port, '127.0.0.1', () => {
  console.error(`stand-in node (${mode}) listening on 127.0.0.1:${port}`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
