// Authorisation of one query: pure, so the decision is made, tested and
// audited before any node is contacted.
import { gatewayProblem } from '../errors.ts';
import type { Researcher } from './researcher.ts';

export interface AccessPolicy {
  /** For each project id, the node ids its queries may reach. A project absent here may reach none. */
  readonly projectNodes: Readonly<Record<string, readonly string[]>>;
}

/**
 * The nodes a query may go to: the requested ones, or all of the project's
 * when none are named. Throws 403 ERR_FORBIDDEN when the researcher does not
 * hold the project or the project may not use a requested node.
 * @example authorize(researcher, 'diabetes-eu', ['lombardia'], { projectNodes: { 'diabetes-eu': ['lombardia', 'galicia'] } });
 */
export function authorize(
  researcher: Researcher,
  project: string,
  nodes: readonly string[] | undefined,
  policy: AccessPolicy,
): readonly string[] {
  if (!researcher.projects.includes(project)) {
    throw gatewayProblem('ERR_FORBIDDEN', { detail: 'You are not a member of this project' });
  }
  // hasOwn: a project named `__proto__` or `constructor` must not find Object.prototype.
  const allowed = Object.hasOwn(policy.projectNodes, project)
    ? policy.projectNodes[project]
    : undefined;
  if (allowed === undefined || allowed.length === 0) {
    throw gatewayProblem('ERR_FORBIDDEN', { detail: 'This project may not query any node' });
  }
  if (nodes === undefined) return [...allowed];
  const refused = nodes.filter((node) => !allowed.includes(node));
  if (refused.length > 0 || nodes.length === 0) {
    throw gatewayProblem('ERR_FORBIDDEN', {
      detail: 'This project may not query one or more of the requested nodes',
    });
  }
  return [...new Set(nodes)];
}
