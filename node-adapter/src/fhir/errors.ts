// The live FHIR source's error codes. They belong in the node's catalogue
// (and in docs/errors.md) with the service's other codes. Details are fixed
// phrases: nothing a FHIR server said, and no patient data, ever reaches them.
import { defineErrors, problemFactory } from '@tessera/schemas';

export const fhirSourceErrors = defineErrors({
  ERR_SOURCE_UNAVAILABLE: { status: 503, title: 'The FHIR server is unavailable' },
  ERR_SOURCE_INVALID: { status: 502, title: 'The FHIR server answered something unusable' },
  ERR_SOURCE_TOO_LARGE: {
    status: 422,
    title: 'The query needs more FHIR resources than the live source may read',
  },
  ERR_SOURCE_CONFIG: { status: 500, title: 'The live FHIR source is misconfigured' },
});

export const sourceProblem = problemFactory(fhirSourceErrors);
