// Content: items by type and status, a Markdown editor whose preview is the server's own
// rendering (sanitised when it is written, exactly what the public endpoint serves), publishing,
// the embed snippet for another site, and assets uploaded with progress.
import { useEffect, useState } from 'preact/hooks';
import { ApiProblem, type Problem } from '../../../client';
import { api, collect, may, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { href, Link, navigate } from '../router';
import { sessionToken } from '../session';
import { CopyButton, ErrorNote, Field, formatBytes, formatDate, humanize, Loading, Page, Select, States } from '../ui';

type Item = Schemas['Content'];
type ContentType = Item['content_type'];
type Status = Item['status'];
const TYPES: ContentType[] = ['blog_post', 'page', 'documentation', 'template'];
const STATUSES: Status[] = ['draft', 'published', 'archived'];

export function Content({ membership, id }: OrgProps) {
  const org = membership.organization.slug;
  const [status, setStatus] = useState<Status | ''>('');
  const [type, setType] = useState<ContentType | ''>('');
  const list = useLoad(
    () =>
      api
        .GET('/v1/orgs/{org}/content', {
          params: {
            path: { org },
            query: { limit: 100, ...(status ? { status } : {}), ...(type ? { content_type: type } : {}) },
          },
        })
        .then(unwrap),
    [org, status, type],
  );
  const [title, setTitle] = useState('');
  const [newType, setNewType] = useState<ContentType>('blog_post');
  const create = useAction(async () => {
    const item = unwrap(
      await api.POST('/v1/orgs/{org}/content', {
        params: { path: { org } },
        body: { title: title.trim(), content_type: newType },
      }),
    );
    setTitle('');
    list.reload();
    navigate(href(org, 'content', item.id));
  });

  return (
    <Page
      title="Content"
      actions={
        <>
          <Select label="Status" value={status} options={[['', 'Any status'], ...STATUSES]} onChange={setStatus} />
          <Select label="Type" value={type} options={[['', 'Any type'], ...TYPES]} onChange={setType} />
        </>
      }
    >
      <div class="split">
        <aside>
          {may(membership.role, 'member') && (
            <form
              class="stack"
              onSubmit={(e) => {
                e.preventDefault();
                create.run();
              }}
            >
              <Field label="New item title">
                <input required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
              </Field>
              <Field label="Type">
                <Select value={newType} options={TYPES} onChange={setNewType} />
              </Field>
              <button type="submit" class="primary" disabled={create.pending}>
                Create draft
              </button>
              <ErrorNote error={create.error} />
            </form>
          )}
          <States loaded={list} empty={(page) => page.data.length === 0 && 'No content here yet.'}>
            {(page) => (
              <ul class="list" aria-label="Content">
                {page.data.map((item) => (
                  <li key={item.id} class={item.id === id ? 'selected' : ''}>
                    <Link to={href(org, 'content', item.id)} aria-current={item.id === id ? 'page' : undefined}>
                      {item.title}
                    </Link>
                    <small>
                      {humanize(item.content_type)} · {humanize(item.status)}
                      {item.published_at ? ` · ${formatDate(item.published_at)}` : ''}
                    </small>
                  </li>
                ))}
              </ul>
            )}
          </States>
        </aside>
        <div>
          {id ? (
            <Editor key={id} org={org} id={id} role={membership.role} onChanged={list.reload} />
          ) : (
            <p class="state">Choose an item, or create one.</p>
          )}
          <Assets org={org} role={membership.role} />
        </div>
      </div>
    </Page>
  );
}

function Editor({
  org,
  id,
  role,
  onChanged,
}: {
  org: string;
  id: string;
  role: Schemas['Member']['role'];
  onChanged: () => void;
}) {
  const path = { params: { path: { org, id } } };
  const item = useLoad(() => api.GET('/v1/orgs/{org}/content/{id}', path).then(unwrap), [org, id]);
  const [draft, setDraft] = useState<Pick<Item, 'title' | 'slug' | 'excerpt' | 'content'> | null>(null);
  useEffect(() => {
    if (item.data)
      setDraft({
        title: item.data.title,
        slug: item.data.slug,
        excerpt: item.data.excerpt,
        content: item.data.content,
      });
  }, [item.data]);
  const settle = (next: Item) => {
    item.set(() => next);
    onChanged();
  };
  const save = useAction(async () => {
    if (!draft) return;
    settle(
      unwrap(
        await api.PATCH('/v1/orgs/{org}/content/{id}', {
          ...path,
          body: { ...draft, excerpt: draft.excerpt?.trim() || null },
        }),
      ),
    );
  });
  const transition = useAction(async (to: 'publish' | 'unpublish' | 'archive') => {
    const call = {
      publish: () => api.POST('/v1/orgs/{org}/content/{id}/publish', { ...path, body: {} }),
      unpublish: () => api.POST('/v1/orgs/{org}/content/{id}/unpublish', path),
      archive: () => api.POST('/v1/orgs/{org}/content/{id}/archive', path),
    }[to];
    settle(unwrap(await call()));
  });

  if (!item.data || !draft) return item.error ? <ErrorNote error={item.error} retry={item.reload} /> : <Loading />;
  const current = item.data;
  const dirty =
    draft.title !== current.title ||
    draft.slug !== current.slug ||
    (draft.excerpt ?? '') !== (current.excerpt ?? '') ||
    draft.content !== current.content;
  const canPublish = may(role, 'admin');
  const canEdit = may(role, current.status === 'draft' ? 'member' : 'admin');
  const snippet = `<div data-strive-org="${org}" data-strive-slug="${current.slug}"></div>\n<script src="${location.origin}/embed.js" async></script>`;

  return (
    <article class="stack" aria-label="Editor">
      <div class="row small">
        <strong>{humanize(current.status)}</strong>
        {current.published_at && <span>since {formatDate(current.published_at)}</span>}
        {canPublish && current.status !== 'published' && (
          <button
            type="button"
            class="primary"
            onClick={() => transition.run('publish')}
            disabled={transition.pending || dirty}
          >
            Publish
          </button>
        )}
        {canPublish && current.status === 'published' && (
          <button type="button" onClick={() => transition.run('unpublish')} disabled={transition.pending}>
            Unpublish
          </button>
        )}
        {canPublish && current.status !== 'archived' && (
          <button type="button" onClick={() => transition.run('archive')} disabled={transition.pending}>
            Archive
          </button>
        )}
        {dirty && <small>Save before publishing.</small>}
      </div>
      <ErrorNote error={transition.error} />
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          save.run();
        }}
        onKeyDown={(e) => {
          if ((e.ctrlKey || e.metaKey) && e.key === 's') {
            e.preventDefault();
            save.run();
          }
        }}
      >
        <div class="row">
          <Field label="Title">
            <input
              required
              maxLength={200}
              value={draft.title}
              disabled={!canEdit}
              onInput={(e) => setDraft({ ...draft, title: e.currentTarget.value })}
            />
          </Field>
          <Field label="Slug">
            <input
              required
              value={draft.slug}
              disabled={!canEdit}
              onInput={(e) => setDraft({ ...draft, slug: e.currentTarget.value })}
            />
          </Field>
        </div>
        <Field label="Excerpt">
          <input
            value={draft.excerpt ?? ''}
            disabled={!canEdit}
            onInput={(e) => setDraft({ ...draft, excerpt: e.currentTarget.value })}
          />
        </Field>
        <div class="editor">
          <Field label="Markdown" hint="Ctrl+S saves; the preview is what the server stored.">
            <textarea
              rows={16}
              value={draft.content}
              disabled={!canEdit}
              onInput={(e) => setDraft({ ...draft, content: e.currentTarget.value })}
            />
          </Field>
          <div>
            <span class="field">
              <span>Preview (sanitised by the server)</span>
            </span>
            {/* The server's sanitised HTML (allow-listed tags, no scripts or handlers); the CSP is the second line. */}
            <div class="preview" dangerouslySetInnerHTML={{ __html: current.html }} />
          </div>
        </div>
        {canEdit && (
          <div>
            <button type="submit" class="primary" disabled={save.pending || !dirty}>
              {save.pending ? 'Saving…' : 'Save'}
            </button>
          </div>
        )}
        <ErrorNote error={save.error} />
      </form>
      {current.status === 'published' && (
        <section aria-label="Embed">
          <h2>Embed it on any site</h2>
          <pre class="snippet" data-embed-snippet>
            {snippet}
          </pre>
          <CopyButton text={snippet} label="Copy snippet" />
        </section>
      )}
    </article>
  );
}

/** One upload through XMLHttpRequest: fetch cannot report an upload's progress. */
async function upload(org: string, file: File, onProgress: (share: number) => void): Promise<Schemas['Asset']> {
  const token = await sessionToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/orgs/${encodeURIComponent(org)}/assets?name=${encodeURIComponent(file.name)}`);
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    const bookmark = api.bookmark();
    if (bookmark) xhr.setRequestHeader('strive-bookmark', bookmark);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new TypeError('upload failed'));
    xhr.onload = () => {
      const body = (() => {
        try {
          return JSON.parse(xhr.responseText);
        } catch {
          return null;
        }
      })();
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else
        reject(new ApiProblem((body ?? { detail: `The upload was refused (${xhr.status}).` }) as Problem, xhr.status));
    };
    xhr.send(file);
  });
}

function Assets({ org, role }: { org: string; role: Schemas['Member']['role'] }) {
  const assets = useLoad(
    () =>
      collect(
        (cursor) =>
          api.GET('/v1/orgs/{org}/assets', { params: { path: { org }, query: { limit: 100, cursor } } }).then(unwrap),
        200,
      ),
    [org],
  );
  const [progress, setProgress] = useState<{ name: string; share: number } | null>(null);
  const send = useAction(async (file: File) => {
    setProgress({ name: file.name, share: 0 });
    try {
      await upload(org, file, (share) => setProgress({ name: file.name, share }));
      assets.reload();
    } finally {
      setProgress(null);
    }
  });
  const remove = useAction(async (asset: Schemas['Asset']) => {
    if (!confirm(`Delete ${asset.file_name}? Pages that show it will lose it.`)) return;
    unwrap(await api.DELETE('/v1/orgs/{org}/assets/{id}', { params: { path: { org, id: asset.id } } }));
    assets.reload();
  });
  return (
    <section aria-label="Assets" class="stack">
      <h2>Assets</h2>
      {may(role, 'member') && (
        <Field label="Upload a file" hint="Images, PDF, audio, video or text; up to 25 MB.">
          <input
            type="file"
            disabled={send.pending}
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) send.run(file);
              e.currentTarget.value = '';
            }}
          />
        </Field>
      )}
      {progress && (
        <label class="field">
          <span>
            Uploading {progress.name}: {Math.round(progress.share * 100)}%
          </span>
          <progress max={1} value={progress.share} />
        </label>
      )}
      <ErrorNote error={send.error ?? remove.error} />
      <States loaded={assets} empty={(list) => list.length === 0 && 'No assets yet.'}>
        {(list) => (
          <ul class="list">
            {list.map((asset) => (
              <li key={asset.id}>
                <a href={asset.url} target="_blank" rel="noreferrer">
                  {asset.file_name}
                </a>
                <small>
                  {asset.content_type} · {formatBytes(asset.size)}
                </small>
                <div class="row small">
                  <CopyButton
                    text={asset.content_type.startsWith('image/') ? `![${asset.file_name}](${asset.url})` : asset.url}
                    label={asset.content_type.startsWith('image/') ? 'Copy Markdown' : 'Copy link'}
                  />
                  {may(role, 'admin') && (
                    <button type="button" class="danger" onClick={() => remove.run(asset)}>
                      Delete
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </States>
    </section>
  );
}
