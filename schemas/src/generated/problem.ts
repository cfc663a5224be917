// Generated from schemas/json/problem.schema.json by `npm run generate:types`. Do not edit.

/**
 * RFC 9457 problem details, with a stable code and the request id.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  requestId: string;
  /**
   * JSON pointer (RFC 6901) to the fault in the request body.
   */
  pointer?: string;
  retryAfter?: number;
}
