// How the test FHIR server writes its answers: FHIR JSON resources and
// OperationOutcomes.
import type { Response } from 'express';
import type { OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function outcome(
  severity: 'error' | 'fatal' | 'information',
  code: OperationOutcomeIssue['code'],
  text: string,
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

export function send(res: Response, status: number, resource: Resource): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(resource));
}
