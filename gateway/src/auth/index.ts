// The gateway's authentication and authorisation, as the HTTP layer uses it.
export { createResearcherAuth, researcherAuthMiddleware, researcherOf } from './researcher.ts';
export type {
  Researcher,
  ResearcherAlgorithm,
  ResearcherAuth,
  ResearcherAuthOptions,
} from './researcher.ts';
export { authorize } from './authorize.ts';
export type { AccessPolicy } from './authorize.ts';
export { AuthProblemError, wwwAuthenticateOf } from './challenge.ts';
export {
  NODE_CLOCK_TOLERANCE_SEC,
  NODE_TOKEN_MAX_TTL_SEC,
  NODE_TOKEN_TYP,
  bodyHash,
  createNodeTokenSigner,
  generateSigningKey,
  publicJwks,
} from './node-token.ts';
export type {
  NodeTokenRequest,
  NodeTokenSigner,
  NodeTokenSignerOptions,
  SigningKey,
} from './node-token.ts';
export {
  keySchedule,
  nodeTokenKeyPolicy,
  retiredKeyPublishedForSec,
  type KeyPlan,
  type KeyRole,
  type KeySchedule,
  type KeySchedulePolicy,
  type ScheduledKey,
} from './key-schedule.ts';
export { openNodeTokenKeyring } from './node-token-keys.ts';
export type {
  NodeTokenKeyring,
  NodeTokenKeyringOptions,
  StoredNodeTokenKey,
} from './node-token-keys.ts';
