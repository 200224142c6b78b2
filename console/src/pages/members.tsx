// Members and their roles: add someone by email (they join on first sign-in), change a role,
// remove. The API decides who may (managing a role takes that role's permissions).
import { useState } from 'preact/hooks';
import { api, collect, may, unwrap, type Role, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { Avatar, ErrorNote, Field, formatDate, Page, Select, States } from '../ui';

const ROLES: Role[] = ['viewer', 'member', 'admin', 'owner'];

export function Members({ me, membership }: OrgProps) {
  const org = membership.organization.slug;
  const canManage = may(membership.role, 'admin');
  const members = useLoad(
    () =>
      collect((cursor) =>
        api.GET('/v1/orgs/{org}/members', { params: { path: { org }, query: { limit: 100, cursor } } }).then(unwrap),
      ),
    [org],
  );
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const add = useAction(async () => {
    unwrap(
      await api.POST('/v1/orgs/{org}/members', { params: { path: { org } }, body: { email: email.trim(), role } }),
    );
    setEmail('');
    members.reload();
  });

  return (
    <Page title="Members">
      {canManage && (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            add.run();
          }}
        >
          <Field label="Email">
            <input
              type="email"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
              placeholder="someone@example.test"
            />
          </Field>
          <Field label="Role">
            <Select value={role} options={ROLES} onChange={setRole} />
          </Field>
          <button type="submit" class="primary" disabled={add.pending}>
            Add member
          </button>
        </form>
      )}
      <ErrorNote error={add.error} />
      <States loaded={members} empty={(list) => list.length === 0 && 'No members.'}>
        {(list) => (
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th>Person</th>
                  <th>Role</th>
                  <th>Joined</th>
                  <th>
                    <span class="skip">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((m) => (
                  <MemberRow
                    key={m.id}
                    org={org}
                    member={m}
                    canManage={canManage}
                    isMe={m.user_id === me.id}
                    onChanged={members.reload}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </States>
    </Page>
  );
}

function MemberRow({
  org,
  member,
  canManage,
  isMe,
  onChanged,
}: {
  org: string;
  member: Schemas['Member'];
  canManage: boolean;
  isMe: boolean;
  onChanged: () => void;
}) {
  const path = { params: { path: { org, user_id: member.user_id } } };
  const change = useAction(async (role: Role) => {
    unwrap(await api.PATCH('/v1/orgs/{org}/members/{user_id}', { ...path, body: { role } }));
    onChanged();
  });
  const remove = useAction(async () => {
    if (!confirm(`Remove ${member.user.email} from this organization?`)) return;
    unwrap(await api.DELETE('/v1/orgs/{org}/members/{user_id}', path));
    onChanged();
  });
  return (
    <tr>
      <td>
        <Avatar name={member.user.name ?? member.user.email} /> {member.user.name ?? member.user.email}{' '}
        <small>
          {member.user.email}
          {isMe ? ' (you)' : ''}
        </small>
      </td>
      <td>
        {canManage ? (
          <Select
            label={`Role of ${member.user.email}`}
            value={member.role}
            options={ROLES}
            onChange={(role) => change.run(role)}
            disabled={change.pending}
          />
        ) : (
          member.role
        )}
        <ErrorNote error={change.error ?? remove.error} />
      </td>
      <td>{member.joined_at ? formatDate(member.joined_at) : 'Invited'}</td>
      <td>
        {(canManage || isMe) && (
          <button type="button" class="danger" onClick={() => remove.run()} disabled={remove.pending}>
            {isMe ? 'Leave' : 'Remove'}
          </button>
        )}
      </td>
    </tr>
  );
}
