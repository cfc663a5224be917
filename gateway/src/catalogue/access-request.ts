// The next step after a result: a draft data request a data access body can
// read, as JSON-LD in the catalogue's vocabularies. It names the datasets of
// the nodes that answered (their HealthDCAT-AP identifiers and data
// versions), the cohort definition (query v1 and its hash), the protected
// counts the researcher was given, and the date. Pure; it holds nothing the
// result did not already show the researcher.
import type { DoneJob } from '../store/store.ts';
import { HEALTH_DCAT_CONTEXT, datasetId } from './catalogue.ts';

export interface AccessRequestOptions {
  /** The gateway's public URL, without a trailing slash. */
  readonly publicUrl: string;
  /** When the draft is made. */
  readonly now: Date;
}

/**
 * @example res.type('application/ld+json').json(accessRequestDraft(job, { publicUrl, now: new Date() }));
 */
export function accessRequestDraft(
  job: DoneJob,
  options: AccessRequestOptions,
): Record<string, unknown> {
  const { publicUrl } = options;
  const catalogueUrl = `${publicUrl}/v1/catalogue`;
  const jobUrl = `${publicUrl}/v1/queries/${job.id}`;
  const { result } = job;
  const answered = result.nodes.flatMap((n) =>
    n.status === 'ok' && n.result ? [{ node: n.node, result: n.result }] : [],
  );
  const label = job.submittedQuery?.label;
  return {
    '@context': {
      ...HEALTH_DCAT_CONTEXT,
      tessera: `${publicUrl}/ns#`,
      cohortDefinition: { '@id': 'tessera:cohortDefinition', '@type': '@json' },
      protectedCounts: { '@id': 'tessera:protectedCounts', '@type': '@json' },
    },
    '@id': `${jobUrl}/access-request`,
    '@type': 'tessera:DataRequestDraft',
    'dct:title': label ?? `Data request for cohort ${job.queryHash}`,
    'dct:created': { '@value': options.now.toISOString(), '@type': 'xsd:dateTime' },
    'dct:source': { '@id': jobUrl },
    'tessera:project': job.project,
    'tessera:requestedBy': job.researcher,
    'tessera:answeredAt': { '@value': job.updatedAt.toISOString(), '@type': 'xsd:dateTime' },
    'dct:requires': answered.map(({ node, result: r }) => ({
      '@id': datasetId(catalogueUrl, node),
      '@type': 'dcat:Dataset',
      'dct:identifier': node,
      'dct:hasVersion': r.dataVersion,
    })),
    'tessera:missingNodes': result.nodes.filter((n) => n.status !== 'ok').map((n) => n.node),
    cohortDefinition: job.submittedQuery ?? job.query,
    'tessera:queryHash': job.queryHash,
    protectedCounts: {
      ...(result.confidence === undefined ? {} : { confidence: result.confidence }),
      merged: { total: result.total, strata: result.strata },
      nodes: answered.map(({ node, result: r }) => ({
        node,
        total: r.total,
        disclosure: r.disclosure.mechanism,
      })),
    },
  };
}
