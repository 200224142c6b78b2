// The AI assistant: conversations by context (general, or about a project, customer or task), and
// a chat over the conversation's socket (…/conversations/{id}/ws): `history` on connect, then each
// `message`, the answer's `delta`s as they stream, `done`. Every tab on the conversation gets the
// same events, so two tabs stay in step; `cancel` stops an answer for all of them.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, may, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { href, Link, navigate } from '../router';
import { useLiveSocket } from '../socket';
import { ErrorNote, Field, formatDate, humanize, Loading, Page, Select, States } from '../ui';

type Conversation = Schemas['Conversation'];
type Message = Schemas['ConversationMessage'];
type ContextType = Conversation['context_type'];
type ChatEvent =
  | { type: 'history'; messages: Message[] }
  | { type: 'message'; message: Message }
  | { type: 'delta'; message_id: string; text: string }
  | { type: 'done'; message: Message }
  | { type: 'error'; code: string; detail: string; message_id?: string };

const CONTEXTS: ContextType[] = ['general', 'project', 'customer', 'task'];
const MODELS: [Conversation['ai_model'], string][] = [
  ['openai_gpt4', 'OpenAI'],
  ['claude_sonnet', 'Anthropic'],
  ['gemini', 'Gemini'],
];
/** The socket's close codes when access ended or the conversation was deleted: no reconnecting. */
const FINAL_CLOSES: Record<number, string> = {
  4403: 'Your access to this conversation has ended.',
  4404: 'This conversation was deleted.',
};

export function Assistant({ membership, id }: OrgProps) {
  const org = membership.organization.slug;
  const query = new URLSearchParams(location.search);
  const [context, setContext] = useState<ContextType | ''>((query.get('context_type') as ContextType) ?? '');
  const contextId = query.get('context_id') ?? undefined;
  const list = useLoad(
    () =>
      api
        .GET('/v1/orgs/{org}/conversations', {
          params: {
            path: { org },
            query: {
              limit: 50,
              ...(context ? { context_type: context } : {}),
              ...(context && contextId ? { context_id: contextId } : {}),
            },
          },
        })
        .then(unwrap),
    [org, context, contextId],
  );

  return (
    <Page
      title="Assistant"
      actions={
        <Select label="Context" value={context} options={[['', 'Every context'], ...CONTEXTS]} onChange={setContext} />
      }
    >
      <div class="split">
        <aside>
          {may(membership.role, 'member') && (
            <NewConversation
              org={org}
              context={context || 'general'}
              contextId={contextId}
              onCreated={(c) => {
                list.reload();
                navigate(href(org, 'assistant', c.id));
              }}
            />
          )}
          <States loaded={list} empty={(page) => page.data.length === 0 && 'No conversations here yet.'}>
            {(page) => (
              <ul class="list" aria-label="Conversations">
                {page.data.map((c) => (
                  <li key={c.id} class={c.id === id ? 'selected' : ''}>
                    <Link to={href(org, 'assistant', c.id)} aria-current={c.id === id ? 'page' : undefined}>
                      {c.title ||
                        c.conversation_data.find((m) => m.role === 'user')?.content.slice(0, 60) ||
                        'Untitled'}
                    </Link>
                    <small>
                      {humanize(c.context_type)} · {formatDate(c.updated_at)}
                    </small>
                  </li>
                ))}
              </ul>
            )}
          </States>
        </aside>
        {id ? (
          <Chat key={id} org={org} id={id} canWrite={may(membership.role, 'member')} />
        ) : (
          <p class="state">Choose a conversation, or start one.</p>
        )}
      </div>
    </Page>
  );
}

function NewConversation({
  org,
  context,
  contextId,
  onCreated,
}: {
  org: string;
  context: ContextType;
  contextId?: string;
  onCreated: (c: Conversation) => void;
}) {
  const [type, setType] = useState<ContextType>(context);
  const [subject, setSubject] = useState(contextId ?? '');
  const [model, setModel] = useState<Conversation['ai_model']>('openai_gpt4');
  const [title, setTitle] = useState('');
  useEffect(() => setType(context), [context]);
  const subjects = useLoad(async (): Promise<[string, string][]> => {
    if (type === 'project')
      return unwrap(
        await api.GET('/v1/orgs/{org}/projects', { params: { path: { org }, query: { limit: 100 } } }),
      ).data.map((p) => [p.id, p.name]);
    if (type === 'customer')
      return unwrap(
        await api.GET('/v1/orgs/{org}/customers', { params: { path: { org }, query: { limit: 100 } } }),
      ).data.map((c) => [c.id, c.name]);
    if (type === 'task')
      return unwrap(
        await api.GET('/v1/orgs/{org}/tasks', { params: { path: { org }, query: { limit: 100 } } }),
      ).data.map((t) => [t.id, t.title]);
    return [];
  }, [org, type]);
  const create = useAction(async () => {
    onCreated(
      unwrap(
        await api.POST('/v1/orgs/{org}/conversations', {
          params: { path: { org } },
          body: {
            context_type: type,
            ai_model: model,
            ...(title.trim() ? { title: title.trim() } : {}),
            ...(type !== 'general' ? { context_id: subject || null } : {}),
          },
        }),
      ),
    );
    setTitle('');
  });
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      <Field label="About">
        <Select
          value={type}
          options={CONTEXTS}
          onChange={(v) => {
            setType(v);
            setSubject('');
          }}
        />
      </Field>
      {type !== 'general' && (
        <Field label={humanize(type)}>
          <Select
            value={subject}
            options={[['', `Choose a ${type}`], ...(subjects.data ?? [])]}
            onChange={setSubject}
            required
          />
        </Field>
      )}
      <Field label="Model">
        <Select value={model} options={MODELS} onChange={setModel} />
      </Field>
      <Field label="Title (optional)">
        <input maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
      </Field>
      <button type="submit" class="primary" disabled={create.pending}>
        New conversation
      </button>
      <ErrorNote error={create.error} />
    </form>
  );
}

function Chat({ org, id, canWrite }: { org: string; id: string; canWrite: boolean }) {
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [streaming, setStreaming] = useState<{ id: string; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const bottom = useRef<HTMLDivElement>(null);

  const onEvent = (event: ChatEvent) => {
    switch (event.type) {
      case 'history':
        setMessages(event.messages);
        setStreaming(null);
        setBusy(event.messages.at(-1)?.role === 'user');
        return;
      case 'message':
        setMessages((m) => (m && !m.some((x) => x.id === event.message.id) ? [...m, event.message] : m));
        if (event.message.role === 'user') setBusy(true);
        return;
      case 'delta':
        setStreaming((s) => ({ id: event.message_id, text: (s?.id === event.message_id ? s.text : '') + event.text }));
        return;
      case 'done':
        setMessages((m) => (m ? [...m.filter((x) => x.id !== event.message.id), event.message] : m));
        setStreaming(null);
        setBusy(false);
        return;
      case 'error':
        setNotice(event.detail);
    }
  };
  const live = useLiveSocket<ChatEvent>({
    path: `/v1/orgs/${encodeURIComponent(org)}/conversations/${id}/ws`,
    onEvent,
    // The API's own answer for this conversation: why the socket was refused, if it was.
    explainRefusal: () =>
      api
        .GET('/v1/orgs/{org}/conversations/{id}', { params: { path: { org, id } } })
        .then(unwrap)
        .then(
          () => null,
          (error) => error,
        ),
    finalCloses: FINAL_CLOSES,
  });

  useEffect(() => bottom.current?.scrollIntoView({ block: 'nearest' }), [messages, streaming]);

  const connected = live.state === 'live';
  const send = (message: object) => setNotice(live.send(message) ? null : 'Not connected: reconnecting…');

  if (live.ended)
    return (
      <div class="chat">
        <ErrorNote error={live.ended} />
      </div>
    );
  if (!messages)
    return (
      <div class="chat">
        <Loading what="Connecting to the conversation" />
      </div>
    );
  const shown =
    streaming && !messages.some((m) => m.id === streaming.id)
      ? [...messages, { id: streaming.id, role: 'assistant', content: streaming.text, created_at: '' } as Message]
      : messages;
  return (
    <div class="chat">
      <ol class="messages" aria-live="polite" aria-label="Messages">
        {shown.length === 0 && <li class="state">No messages yet: ask something.</li>}
        {shown.map((m, n) => (
          <li
            key={m.id ?? n}
            data-message-id={m.id}
            class={`message ${m.role}${m.id === streaming?.id ? ' streaming' : ''}${m.status && m.status !== 'complete' ? ` ${m.status}` : ''}`}
          >
            {m.role === 'tool' ? (
              <small>
                Tool <code>{m.tool?.name}</code>: {m.content.slice(0, 200)}
              </small>
            ) : (
              <>
                <span class="text">{m.content}</span>
                {m.status === 'cancelled' && <small>Cancelled</small>}
                {m.error && <small class="error-text">{m.error.detail}</small>}
              </>
            )}
          </li>
        ))}
      </ol>
      <div ref={bottom} />
      {notice && <ErrorNote error={notice} retry={() => setNotice(null)} />}
      {canWrite ? (
        <form
          class="composer"
          onSubmit={(e) => {
            e.preventDefault();
            if (!draft.trim()) return;
            send({ type: 'user_message', content: draft.trim() });
            setDraft('');
          }}
        >
          <textarea
            aria-label="Message"
            rows={2}
            maxLength={8000}
            value={draft}
            placeholder={connected ? 'Ask the assistant… (Enter sends, Shift+Enter is a new line)' : 'Connecting…'}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                e.currentTarget.form?.requestSubmit();
              }
            }}
          />
          {busy ? (
            <button type="button" onClick={() => send({ type: 'cancel' })}>
              Cancel
            </button>
          ) : (
            <button type="submit" class="primary" disabled={!connected}>
              Send
            </button>
          )}
        </form>
      ) : (
        <p class="hint">
          Viewers read conversations; writing needs <code>conversations:write</code>.
        </p>
      )}
    </div>
  );
}
