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
  const status = { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] };
  const job = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      status,
      result: { $ref: '#/components/schemas/MergedResult' },
    },
  };
  const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const json = (schema: unknown) => ({ 'application/json': { schema } });
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const extra = {
    JobSummary: {
      type: 'object',
      description:
        'A past or running query as the history lists it: what was asked, never its figures.',
      required: [
        'id',
        'status',
        'project',
        'queryHash',
        'query',
        'nodes',
        'createdAt',
        'updatedAt',
        'links',
      ],
      properties: {
        id: { type: 'string', format: 'uuid' },
        status,
        label: { type: 'string', description: "The query's `label`, when it has one." },
        query: {
          ...ref('CohortQuery'),
          description:
            'The query as submitted (query v1; a CCDL document as translated), ready to re-run or edit.',
        },
        project: { type: 'string' },
        queryHash: { type: 'string' },
        nodes: { type: 'array', items: { type: 'string' } },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
        error: { type: 'string', description: 'The error code of a failed job.' },
        links: {
          type: 'object',
          properties: { self: { type: 'string' }, events: { type: 'string' } },
        },
      },
    },
    NewSavedQuery: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'query'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200 },
        query: ref('CohortQuery'),
        project: {
          type: 'string',
          description: 'The project it is shared with; needed when the researcher has several.',
        },
      },
    },
    SavedQuery: {
      type: 'object',
      description:
        "A named query, readable by every member of its project who has its link. It holds the question, never an answer's figures.",
      required: ['id', 'name', 'project', 'owner', 'query', 'createdAt', 'links'],
      properties: {
        id: { type: 'string', format: 'uuid' },
        name: { type: 'string' },
        project: { type: 'string' },
        owner: { type: 'string', description: "The saving researcher's `sub`." },
        query: ref('CohortQuery'),
        createdAt: { type: 'string', format: 'date-time' },
        links: {
          type: 'object',
          properties: {
            self: { type: 'string', description: 'This saved query in the API.' },
            share: {
              type: 'string',
              description:
                'The link to share: the web page opening this saved query (`/?saved=<id>`).',
            },
          },
        },
      },
    },
    CodeMatch: {
      type: 'object',
      required: ['kind', 'system', 'code', 'nodes'],
      properties: {
        kind: catalogueSchema.properties.codes.items.properties.kind,
        system: { type: 'string' },
        code: { type: 'string' },
        display: { type: 'string', description: 'The name the nodes gave it in their data.' },
        nodes: {
          type: 'array',
          description:
            "Each node holding the code for at least its threshold of patients, with the node's rounded patient count (its band), never an exact one.",
          items: {
            type: 'object',
            required: ['node', 'patients'],
            properties: { node: { type: 'string' }, patients: { type: 'integer' } },
          },
        },
      },
    },
    CodeSearch: {
      type: 'object',
      required: ['q', 'codes', 'truncated'],
      properties: {
        q: { type: 'string' },
        codes: { type: 'array', items: ref('CodeMatch') },
        truncated: { type: 'boolean', description: 'More codes matched than `limit`.' },
        message: {
          type: 'string',
          description: 'Present when nothing matched: says so in words (English).',
        },
      },
    },
    AccessRequestDraft: {
      type: 'object',
      description:
        'A data-request draft in JSON-LD (DCAT, Dublin Core, HealthDCAT-AP): the datasets of the answering nodes, the cohort definition and its hash, the protected counts and the date.',
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
      schemas: { ...schemas, Job: job, ...extra },
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
          summary: "The researcher's own query history: label, query and status of each job",
          parameters: [
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 200, default: 100 },
            },
          ],
          responses: {
            '200': {
              description: 'Jobs, newest first',
              content: json({
                type: 'object',
                properties: { queries: { type: 'array', items: ref('JobSummary') } },
              }),
            },
            '401': errors['401'],
          },
        },
      },
      '/v1/queries/{id}/access-request': {
        parameters: [idParameter],
        get: {
          summary:
            'A data-request draft for a done query, as JSON-LD: answering datasets, cohort definition and hash, protected counts, date',
          responses: {
            '200': {
              description: 'The draft',
              content: { 'application/ld+json': { schema: ref('AccessRequestDraft') } },
            },
            '404': problemResponse('No such query of yours'),
            '409': problemResponse('The query has no answer yet (ERR_JOB_NOT_DONE)'),
          },
        },
      },
      '/v1/saved-queries': {
        post: {
          summary: 'Save a query with a name, shared by link with the members of its project',
          requestBody: { required: true, content: json(ref('NewSavedQuery')) },
          responses: {
            '201': { description: 'Saved; Location is its link', content: json(ref('SavedQuery')) },
            '400': errors['400'],
            '401': errors['401'],
            '403': errors['403'],
          },
        },
        get: {
          summary: "The researcher's own saved queries, newest first",
          responses: {
            '200': {
              description: 'Saved queries',
              content: json({
                type: 'object',
                properties: { savedQueries: { type: 'array', items: ref('SavedQuery') } },
              }),
            },
          },
        },
      },
      '/v1/saved-queries/{id}': {
        parameters: [idParameter],
        get: {
          summary: "A saved query, for any member of its project (the share link's target)",
          responses: {
            '200': { description: 'The saved query', content: json(ref('SavedQuery')) },
            '404': problemResponse('No such saved query in your projects'),
          },
        },
        delete: {
          summary: 'Delete a saved query (its owner only)',
          responses: {
            '204': { description: 'Deleted' },
            '404': problemResponse('No such saved query of yours'),
          },
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
      '/v1/catalogue/codes': {
        get: {
          summary:
            "Codes the nodes hold, found by code prefix (`E11` finds `E11.9`) or by words of their display name (`diabet`), accent- and case-insensitive, with each node's band",
          security: [],
          parameters: [
            {
              name: 'q',
              in: 'query',
              required: true,
              schema: { type: 'string', minLength: 1, maxLength: 200 },
            },
            { name: 'system', in: 'query', schema: { type: 'string' } },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            },
          ],
          responses: {
            '200': {
              description: 'Matching codes (an empty list with a message when none)',
              content: json(ref('CodeSearch')),
            },
            '400': problemResponse('No `q`, or a bad `limit`'),
          },
        },
      },
      '/v1/sign-in': {
        get: {
          summary:
            "Where researchers' tools sign in: the IdP's issuer, the audience and scope to ask for, the command line's client id",
          security: [],
          responses: {
            '200': {
              description: 'Sign-in settings',
              content: json({
                type: 'object',
                required: ['issuer', 'audience', 'scope'],
                properties: {
                  issuer: { type: 'string' },
                  audience: { type: 'string' },
                  scope: { type: 'string' },
                  cliClientId: { type: 'string' },
                },
              }),
            },
          },
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
