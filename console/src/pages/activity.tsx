// The activity log: every change, who made it (a person, an API key, the assistant, a webhook),
// newest first, a page at a time, filtered by resource type.
import { useState } from 'preact/hooks';
import { api, unwrap } from '../api';
import { usePaged } from '../hooks';
import type { OrgProps } from '../main';
import { Field, formatDate, More, Page, States } from '../ui';

export function Activity({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const [resource, setResource] = useState('');
  const log = usePaged(
    (cursor) =>
      api
        .GET('/v1/orgs/{org}/activity', {
          params: {
            path: { org },
            query: { limit: 50, cursor, ...(resource.trim() ? { resource_type: resource.trim() } : {}) },
          },
        })
        .then(unwrap),
    [org, resource],
  );

  return (
    <Page title="Activity">
      <div class="row">
        <Field label="Resource type">
          <input
            value={resource}
            onChange={(e) => setResource(e.currentTarget.value)}
            placeholder="customer, task, member…"
          />
        </Field>
      </div>
      <States loaded={log.first} empty={(entries) => entries.length === 0 && 'Nothing has happened here yet.'}>
        {(entries) => (
          <>
            <ol class="list">
              {[...entries, ...log.later].map((entry) => (
                <li key={entry.id}>
                  <span>
                    <strong>{entry.action}</strong> {entry.resource_type}
                    {entry.resource_id ? <code> {entry.resource_id.slice(-8)}</code> : null}
                  </span>
                  <small>
                    {formatDate(entry.created_at)} · by {entry.actor_type}
                    {entry.actor_id ? ` ${entry.actor_id.slice(-8)}` : ''}
                  </small>
                </li>
              ))}
            </ol>
            <More paged={log} label="Older" />
          </>
        )}
      </States>
    </Page>
  );
}
