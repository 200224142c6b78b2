// API keys: a key's secret is in the answer that creates it and nowhere else, so it is shown
// once with a copy button; keys are listed by prefix and revoked.
import { useState } from 'preact/hooks';
import { api, collect, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { CopyButton, ErrorNote, Field, formatDate, Page, States } from '../ui';

type Scope = Schemas['ApiKeyCreate']['scopes'][number];
/** The scopes offered (each checked against the API's list by the type); a key never exceeds its creator. */
const SCOPES: Scope[] = [
  'organization:read',
  'members:read',
  'customers:read',
  'customers:write',
  'projects:read',
  'projects:write',
  'tasks:read',
  'tasks:write',
  'appointments:read',
  'appointments:write',
  'content:read',
  'content:write',
  'content:publish',
  'assets:read',
  'assets:write',
  'conversations:read',
  'conversations:write',
  'activity:read',
  'usage:read',
];

export function ApiKeys({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const keys = useLoad(
    () =>
      collect((cursor) =>
        api.GET('/v1/orgs/{org}/api-keys', { params: { path: { org }, query: { limit: 100, cursor } } }).then(unwrap),
      ),
    [org],
  );
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['organization:read', 'customers:read']);
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const create = useAction(async () => {
    const created = unwrap(
      await api.POST('/v1/orgs/{org}/api-keys', { params: { path: { org } }, body: { name: name.trim(), scopes } }),
    );
    setSecret({ name: created.name, key: created.key });
    setName('');
    keys.reload();
  });
  const revoke = useAction(async (key: Schemas['ApiKey']) => {
    if (!confirm(`Revoke “${key.name}”? Requests with it will be refused.`)) return;
    unwrap(await api.DELETE('/v1/orgs/{org}/api-keys/{id}', { params: { path: { org, id: key.id } } }));
    keys.reload();
  });

  return (
    <Page title="API keys">
      {secret && (
        <div class="notice" role="status">
          <p>
            <strong>{secret.name}</strong>: copy this key now. It is shown this once and cannot be read again.
          </p>
          <p class="secret" data-secret>
            {secret.key}
          </p>
          <div class="row small">
            <CopyButton text={secret.key} label="Copy key" />
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          create.run();
        }}
      >
        <Field label="Key name">
          <input
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            placeholder="CI"
          />
        </Field>
        <fieldset>
          <legend>Scopes</legend>
          <div class="row small">
            {SCOPES.map((scope) => (
              <label key={scope}>
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) =>
                    setScopes((s) => (e.currentTarget.checked ? [...s, scope] : s.filter((x) => x !== scope)))
                  }
                />{' '}
                {scope}
              </label>
            ))}
          </div>
        </fieldset>
        <div>
          <button type="submit" class="primary" disabled={create.pending || scopes.length === 0}>
            Create key
          </button>
        </div>
      </form>
      <ErrorNote error={create.error ?? revoke.error} />
      <States loaded={keys} empty={(list) => list.length === 0 && 'No API keys yet.'}>
        {(list) => (
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Key</th>
                  <th>Scopes</th>
                  <th>Last used</th>
                  <th>
                    <span class="skip">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td>
                      {key.scopes.map((s) => (
                        <span key={s} class="tag">
                          {s}
                        </span>
                      ))}
                    </td>
                    <td>{key.revoked_at ? `Revoked ${formatDate(key.revoked_at)}` : formatDate(key.last_used_at)}</td>
                    <td>
                      {!key.revoked_at && (
                        <button type="button" class="danger" onClick={() => revoke.run(key)}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </States>
    </Page>
  );
}
