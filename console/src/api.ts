// The console's one API client: the typed client of client/, on this origin, with the session's
// token. Pages call `api.GET('/v1/orgs/{org}/…', …).then(unwrap)`.
import { createStriveClient, type Schemas } from '../../client';
import { sessionToken } from './session';

export const api = createStriveClient({ credential: sessionToken });
export type { Schemas };
export { collect, unwrap } from '../../client';

export type Role = Schemas['Member']['role'];
const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };
/**
 * What the console offers a role (the API decides: a refused action shows its detail). Members
 * write, admins manage people, keys, the log and publishing, owners billing.
 */
export const may = (role: Role | null | undefined, least: Role) => role != null && RANK[role] >= RANK[least];
