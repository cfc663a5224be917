// Reading a running gateway's /metrics, for the benchmarks that drive one.

/** The sum of a metric's samples (every label set). */
export async function metricValue(gatewayUrl: string, name: string): Promise<number> {
  const response = await fetch(`${gatewayUrl}/metrics`);
  const text = await response.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

/** Waits until the gateway runs no query; false when it still did after `timeoutMs`. */
export async function gatewayIdle(gatewayUrl: string, timeoutMs = 30_000): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if ((await metricValue(gatewayUrl, 'tessera_gateway_queries_in_flight')) === 0) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}
