// OpenAPI 3.1 for the gateway, assembled from the contract's JSON Schemas
// (3.1 speaks JSON Schema 2020-12), so the API description cannot drift.
import querySchema from '@tessera/schemas/json/query.schema.json' with { type: 'json' };
import nodeResultSchema from '@tessera/schemas/json/node-result.schema.json' with { type: 'json' };
import mergedResultSchema from '@tessera/schemas/json/merged-result.schema.json' with { type: 'json' };
import catalogueSchema from '@tessera/schemas/json/catalogue.schema.json' with { type: 'json' };
import problemSchema from '@tessera/schemas/json/problem.schema.json' with { type: 'json' };

const COMPONENTS: Record<string, { file: string; schema: Record<string, unknown> }> = {
  CohortQuery: { file: 'query.schema.json', schema: querySchema },
  NodeResult: { file: 'node-result.schema.json', schema: nodeResultSchema },
  MergedResult: { file: 'merged-result.schema.json', schema: mergedResultSchema },
  CatalogueEntry: { file: 'catalogue.schema.json', schema: catalogueSchema },
  Problem: { file: 'problem.schema.json', schema: problemSchema },
};

/** Rewrites `$ref`s (local `#/$defs/..` and cross-file `x.schema.json#..`) to component paths. */
function relocate(value: unknown, home: string, byFile: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => relocate(v, home, byFile));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === '$id' || key === '$schema') continue;
    if (key === '$ref' && typeof child === 'string') {
      const [file, fragment = ''] = child.split('#', 2);
      const target = file ? byFile.get(file) : home;
      out.$ref = `#/components/schemas/${target}${fragment}`;
    } else {
      out[key] = relocate(child, home, byFile);
    }
  }
  return out;
}

const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/** The gateway's OpenAPI document. */
export function buildOpenApi(publicUrl: string): Record<string, unknown> {
  const byFile = new Map(Object.entries(COMPONENTS).map(([name, c]) => [c.file, name]));
  const schemas = Object.fromEntries(
    Object.entries(COMPONENTS).map(([name, c]) => [name, relocate(c.schema, name, byFile)]),
  );
  const errors = {
    '400': problemResponse('Invalid query; `pointer` names the fault'),
    '401': problemResponse('Missing or invalid access token'),
    '403': problemResponse('Not allowed for this project or node'),
    '429': problemResponse('Rate limit reached; see Retry-After'),
    '503': problemResponse('Overloaded or identity provider unreachable'),
  };
  const job = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      status: { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] },
      result: { $ref: '#/components/schemas/MergedResult' },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tessera gateway',
      version: '1.0.0',
      description: 'Federated cohort queries over regional health data; aggregates only.',
    },
    servers: [{ url: publicUrl }],
    components: {
      schemas: { ...schemas, Job: job },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/queries': {
        post: {
          summary: 'Submit a cohort query (query v1, or CCDL with application/ccdl+json)',
          parameters: [
            { name: 'Prefer', in: 'header', schema: { type: 'string', example: 'wait=10' } },
            { name: 'x-tessera-project', in: 'header', schema: { type: 'string' } },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/CohortQuery' } },
              'application/ccdl+json': { schema: { type: 'object' } },
            },
          },
          responses: {
            '200': {
              description: 'Finished within the wait',
              content: { 'application/json': { schema: job } },
            },
            '202': {
              description: 'Accepted; poll Location',
              content: { 'application/json': { schema: job } },
            },
            ...errors,
          },
        },
        get: {
          summary: "The researcher's own query history",
          responses: { '200': { description: 'Jobs, newest first' }, '401': errors['401'] },
        },
      },
      '/v1/queries/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: 'A query and, when done, its merged answer',
          responses: {
            '200': {
              description:
                'JSON; FHIR MeasureReport with Accept application/fhir+json; CSV with text/csv',
              content: {
                'application/json': { schema: job },
                'application/fhir+json': { schema: { type: 'object' } },
                'text/csv': { schema: { type: 'string' } },
              },
            },
            '404': problemResponse('No such query of yours'),
          },
        },
        delete: {
          summary: 'Cancel; in-flight node calls are aborted',
          responses: { '200': { description: 'Cancelled' } },
        },
      },
      '/v1/queries/{id}/events': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          summary: 'Server-Sent Events: `node` per node outcome, then `result`',
          responses: {
            '200': { description: 'text/event-stream', content: { 'text/event-stream': {} } },
          },
        },
      },
      '/v1/query-check': {
        post: {
          summary:
            'The checks of a submission, nothing sent: {"query": <query v1>} answers the query, {"ccdl": <CCDL>} its translation into query v1; a fault is ERR_QUERY_INVALID or ERR_CCDL_UNSUPPORTED with a pointer into the document checked',
          responses: {
            '200': { description: '{"query": <query v1>}' },
            '400': problemResponse('Not a valid query, or CCDL that cannot be translated'),
          },
        },
      },
      '/v1/nodes': {
        get: {
          summary: 'Node health, latency, data version and age, circuit state',
          responses: { '200': { description: 'Nodes' } },
        },
      },
      '/v1/catalogue': {
        get: {
          summary:
            'The federated catalogue (JSON, or HealthDCAT-AP JSON-LD with Accept application/ld+json)',
          security: [],
          parameters: [
            {
              name: 'code',
              in: 'query',
              schema: { type: 'string', example: 'http://hl7.org/fhir/sid/icd-10|E11' },
            },
            { name: 'q', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'Entries' } },
        },
      },
      '/.well-known/jwks.json': {
        get: {
          summary: 'Keys nodes verify gateway requests with',
          security: [],
          responses: { '200': { description: 'JWKS' } },
        },
      },
      '/healthz': { get: { security: [], responses: { '200': { description: 'Alive' } } } },
      '/readyz': {
        get: {
          security: [],
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
        },
      },
      '/metrics': {
        get: { security: [], responses: { '200': { description: 'Prometheus metrics' } } },
      },
    },
  };
}
