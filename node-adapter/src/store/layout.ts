// The node's analytic store: FHIR resources flattened for cohort queries.
// Ingest writes these tables, the engine compiles queries against them and
// the catalogue summarises them; this file is the one place they are defined.
//
// Rules applied at ingest, so every reader can rely on them:
// - one row per coding: a resource with several codings matches any of them;
// - `system` is the canonical URL of its code system (an alias such as a
//   dimdi URL is stored as the bfarm URL it stands for; the table is in
//   meta `code_system_aliases`), and `code` is normalised for it (ICD-10 dots
//   removed, see normaliseCode in @tessera/schemas);
// - resources with status `entered-in-error`, and Conditions whose
//   verificationStatus is `refuted` or `entered-in-error`, are not stored;
// - `patient_id` is the Patient's logical id (`Patient/<id>` and
//   `urn:uuid:<id>` references both resolve to `<id>`; in a Bundle, a
//   reference to an entry's fullUrl to that entry's id, or the id its fullUrl
//   gives when it has none); it is stored once, in
//   `patients`, next to `patient_key`, a dense integer (0, 1, ... in
//   patient_id order) given at each ingest and valid for that store version
//   only. Event tables carry the key alone, so joins and distinct counts
//   hash integers; events of unknown patients are dropped;
// - event tables are sorted by (system, code, patient_key), so zone maps
//   prune code filters and a code's rows are read in patient order;
// - `resource_id` is the resource's logical id, prefixed with its resource
//   type in `medications` (`MedicationRequest/<id>`), the one table fed by
//   several resource types;
// - an Observation's components are rows of `observations` too, numbered in
//   `component` (0: the Observation itself), so a criterion or measure on a
//   code matches a component of that code, with the component's value;
// - each event table has a code index, `<table>_code_patients`: every
//   (system, code) with each patient holding it once, and the patient's
//   record key, sorted the same way. A criterion on codes alone (no period,
//   value or count) and a codes stratification read it instead of the
//   events: a code a patient was given every year costs one row, not
//   fifteen; and a count of such a criterion alone needs no patient table;
// - `event_date` is the kind's event date (query-language page, "Which FHIR
//   element each kind reads"), as a DATE; NULL when the resource has none;
// - `deceased_date` is the date part of Patient.deceasedDateTime (a partial
//   date at its first day), NULL when the patient is alive, only known dead
//   (`deceasedBoolean`) or the date is unreadable: ages stop at it;
// - `consents` holds one row per code of each provision of an active
//   Consent (ingest/consent.ts says how a Consent is read): `decision` is the
//   provision's type (`permit` or `deny`), `period_start` and `period_end`
//   the dates it is in force (NULL when open); Consents of other statuses
//   are not stored.
import type { EventKind } from '@tessera/schemas';

/** Table per event kind. */
export const EVENT_TABLES: Readonly<Record<EventKind, string>> = Object.freeze({
  condition: 'conditions',
  observation: 'observations',
  procedure: 'procedures',
  medication: 'medications',
  immunization: 'immunizations',
  encounter: 'encounters',
});

/** Code index per event kind: (system, code, patient_key, record_key), distinct, sorted. */
export const CODE_PATIENT_TABLES: Readonly<Record<EventKind, string>> = Object.freeze(
  Object.fromEntries(
    Object.entries(EVENT_TABLES).map(([kind, table]) => [kind, `${table}_code_patients`]),
  ) as Record<EventKind, string>,
);

export const DDL = `
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);

-- gender: female | male | other | unknown (absent -> unknown).
-- record_key: the patient's persistent random key for cell-key perturbation,
-- a 32-bit integer derived from a node secret and the patient id (HMAC), so it
-- survives re-ingest and restarts and reveals nothing about the id.
CREATE TABLE IF NOT EXISTS patients (
  patient_key INTEGER NOT NULL,
  patient_id VARCHAR NOT NULL,
  gender VARCHAR NOT NULL,
  birth_date DATE,
  deceased BOOLEAN NOT NULL,
  deceased_date DATE,
  record_key UBIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS conditions    (patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS procedures    (patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS medications   (patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS immunizations (patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL);
-- encounters: one row per type coding and one for class (as a Coding).
CREATE TABLE IF NOT EXISTS encounters    (patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL);

-- observations: one row per code coding; value/unit from valueQuantity (unit
-- as the UCUM code when the Quantity's system is UCUM, else its unit text).
-- component: 0 for the Observation's own code and value; n for its n-th
-- component (counting those with a usable coding), one row per coding of the
-- component's code with the component's value, on the Observation's date.
CREATE TABLE IF NOT EXISTS observations (
  patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, event_date DATE,
  system VARCHAR NOT NULL, code VARCHAR NOT NULL,
  value DOUBLE, unit VARCHAR, component INTEGER NOT NULL
);
-- consents: one row per code of each provision of an active Consent.
CREATE TABLE IF NOT EXISTS consents (
  patient_key INTEGER NOT NULL, resource_id VARCHAR NOT NULL, decision VARCHAR NOT NULL,
  period_start DATE, period_end DATE, system VARCHAR NOT NULL, code VARCHAR NOT NULL
);
-- observation_value_codes: one row per valueCodeableConcept coding, of the
-- Observation (component 0) or of one of its components.
CREATE TABLE IF NOT EXISTS observation_value_codes (
  resource_id VARCHAR NOT NULL, component INTEGER NOT NULL, system VARCHAR NOT NULL, code VARCHAR NOT NULL
);
-- code_displays: each coding's display as the data gives it, with the
-- number of patients whose records carry it; the catalogue names a code by
-- its most common display, and only when at least threshold patients carry it.
CREATE TABLE IF NOT EXISTS code_displays (system VARCHAR NOT NULL, code VARCHAR NOT NULL, display VARCHAR NOT NULL, patients INTEGER NOT NULL);

${Object.values(CODE_PATIENT_TABLES)
  .map(
    (table) =>
      `CREATE TABLE IF NOT EXISTS ${table} (system VARCHAR NOT NULL, code VARCHAR NOT NULL, patient_key INTEGER NOT NULL, record_key UBIGINT NOT NULL);`,
  )
  .join('\n')}
`;

/** Keys of the meta table. */
export const META = Object.freeze({
  /** `<ISO time>#<first 12 hex of the content hash>`; changes only when the data changes. */
  dataVersion: 'data_version',
  contentHash: 'content_hash',
  ingestedAt: 'ingested_at',
  /**
   * The code-system alias table ingest read the data with (JSON: alias ->
   * canonical URL): codes are stored under canonical URLs, and a query's
   * codes are read through the same table.
   */
  codeSystemAliases: 'code_system_aliases',
});
