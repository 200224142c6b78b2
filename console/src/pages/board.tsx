// A project's kanban board, live through its socket (…/projects/{id}/board/ws): a snapshot on
// connect, then every change anyone makes. A drag (or Alt+arrow keys) moves a card at once and
// sends `move` with its neighbours and the version seen; the server's `task.moved` settles it, and
// a stale move's `conflict` puts the card where the server says it is. Watchers show as avatars.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, may, unwrap, type Schemas } from '../api';
import { describe, useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { href, Link } from '../router';
import { useLiveSocket } from '../socket';
import { Avatar, ErrorNote, humanize, Loading, Page } from '../ui';

type Task = Schemas['Task'];
type Status = Task['status'];
type Columns = Record<Status, Task[]>;
type Watcher = { type: string; id: string | null; name: string | null };
type BoardEvent =
  | { type: 'snapshot'; board: Schemas['Board'] }
  | { type: 'presence'; users: Watcher[] }
  | { type: 'task.created' | 'task.updated'; task: Task; actor: Watcher }
  | { type: 'task.moved'; task: Task; actor: Watcher; renumbered?: { id: string; position: number }[] }
  | { type: 'task.deleted'; task: Task & { deleted_ids: string[] }; actor: Watcher }
  | { type: 'error'; code: string; detail: string; task?: Task | null }
  | { type: 'pong' };

const STATUSES: Status[] = ['todo', 'in_progress', 'review', 'done', 'cancelled'];
const PING_MS = 30_000;

const byPosition = (a: Task, b: Task) => a.position - b.position || (a.id < b.id ? -1 : 1);

function fromBoard(board: Schemas['Board']): Columns {
  const columns = Object.fromEntries(STATUSES.map((s) => [s, [] as Task[]])) as Columns;
  for (const column of board.columns) columns[column.status] = [...column.tasks].sort(byPosition);
  return columns;
}

/** `task` as the one truth about itself: out of whichever column held it, into its own. */
function place(columns: Columns, task: Task): Columns {
  const next = { ...columns };
  for (const status of STATUSES) next[status] = next[status].filter((t) => t.id !== task.id);
  next[task.status] = [...next[task.status], task].sort(byPosition);
  return next;
}

function renumber(columns: Columns, positions: { id: string; position: number }[]): Columns {
  const moved = new Map(positions.map((p) => [p.id, p.position]));
  const next = { ...columns };
  for (const status of STATUSES) {
    next[status] = next[status]
      .map((t) => (moved.has(t.id) ? { ...t, position: moved.get(t.id)! } : t))
      .sort(byPosition);
  }
  return next;
}

/** Where a dropped card goes locally until the server answers: between its new neighbours. */
function provisionalPosition(after: Task | undefined, before: Task | undefined): number {
  if (after && before) return (after.position + before.position) / 2;
  if (after) return after.position + 1024;
  return before ? before.position - 1024 : 1024;
}

export function Board({ me, membership, projectId }: OrgProps & { projectId: string }) {
  const org = membership.organization.slug;
  const canMove = may(membership.role, 'member');
  const project = useLoad(
    () => api.GET('/v1/orgs/{org}/projects/{id}', { params: { path: { org, id: projectId } } }).then(unwrap),
    [org, projectId],
  );
  const [columns, setColumns] = useState<Columns | null>(null);
  const [watchers, setWatchers] = useState<Watcher[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [flash, setFlash] = useState<Record<string, 'arrived' | 'snapped'>>({});
  const [drag, setDrag] = useState<{ id: string; over?: { status: Status; index: number } } | null>(null);
  const [focusId, setFocusId] = useState<string | null>(null);
  /** My moves the server has not answered yet, per task. */
  const pending = useRef(new Map<string, number>());
  const columnsRef = useRef<Columns | null>(null);
  columnsRef.current = columns;

  const highlight = (id: string, kind: 'arrived' | 'snapped') => {
    setFlash((f) => ({ ...f, [id]: kind }));
    setTimeout(
      () =>
        setFlash((f) => {
          const { [id]: _, ...rest } = f;
          return rest;
        }),
      1200,
    );
  };
  const reloadBoard = () =>
    api
      .GET('/v1/orgs/{org}/projects/{id}/board', { params: { path: { org, id: projectId } } })
      .then(unwrap)
      .then((board) => {
        pending.current.clear();
        setColumns(fromBoard(board));
      });

  const onEvent = (event: BoardEvent) => {
    switch (event.type) {
      case 'snapshot':
        pending.current.clear();
        setColumns(fromBoard(event.board));
        return;
      case 'presence':
        setWatchers(event.users);
        return;
      case 'task.created':
      case 'task.updated':
      case 'task.moved': {
        const mine = event.actor.id === me.id;
        const inFlight = pending.current.get(event.task.id) ?? 0;
        if (mine && inFlight > 0) {
          if (inFlight > 1) pending.current.set(event.task.id, inFlight - 1);
          else pending.current.delete(event.task.id);
        }
        // The answer to an earlier move of mine while a later one is in flight: the card stays
        // where the later one put it (its answer settles it); the neighbours' new positions count.
        const superseded = mine && inFlight > 1;
        setColumns((c) => {
          if (!c) return c;
          const placed = superseded ? c : place(c, event.task);
          const renumbered =
            event.type === 'task.moved'
              ? (event.renumbered ?? []).filter((r) => !superseded || r.id !== event.task.id)
              : [];
          return renumbered.length ? renumber(placed, renumbered) : placed;
        });
        if (!mine) highlight(event.task.id, 'arrived');
        return;
      }
      case 'task.deleted': {
        const gone = new Set(event.task.deleted_ids);
        setColumns(
          (c) => c && (Object.fromEntries(STATUSES.map((s) => [s, c[s].filter((t) => !gone.has(t.id))])) as Columns),
        );
        return;
      }
      case 'error':
        setNotice(event.detail);
        if (event.code === 'conflict' && event.task) {
          // A stale move: the card goes where the server has it.
          pending.current.delete(event.task.id);
          setColumns((c) => c && place(c, event.task!));
          highlight(event.task.id, 'snapped');
        } else if (pending.current.size > 0) {
          // Refused (a view of the column the server does not share, a permission, the rate):
          // the server's board replaces ours.
          reloadBoard().catch((error) => setNotice(describe(error)));
        }
        return;
    }
  };
  const live = useLiveSocket<BoardEvent>({
    path: `/v1/orgs/${encodeURIComponent(org)}/projects/${projectId}/board/ws`,
    onEvent,
    explainRefusal: () =>
      reloadBoard().then(
        () => null,
        (error) => error,
      ),
    pingMs: PING_MS,
  });

  // A card moved by keyboard is a new element in its new column: focus follows it at once.
  useLayoutEffect(() => {
    const moved = focusId && document.querySelector<HTMLElement>(`[data-task-id="${focusId}"]`);
    if (!moved) return;
    moved.focus();
    setFocusId(null);
  }, [focusId, columns]);

  /** Moves `id` into `status` before the card now at `index` (excluding itself). */
  const move = (id: string, status: Status, index: number) => {
    const current = columnsRef.current;
    const task = current && STATUSES.flatMap((s) => current[s]).find((t) => t.id === id);
    if (!current || !task) return;
    const others = current[status].filter((t) => t.id !== id);
    const after = others[index - 1];
    const before = others[index];
    const column = current[task.status];
    const at = column.indexOf(task);
    if (status === task.status && column[at - 1]?.id === after?.id && column[at + 1]?.id === before?.id) return;
    const sent = live.send({
      type: 'move',
      task_id: id,
      status,
      version: task.version,
      ...(after ? { after_id: after.id } : {}),
      ...(before ? { before_id: before.id } : {}),
    });
    if (!sent) return setNotice('Not connected to the board: the move was not sent. Reconnecting…');
    pending.current.set(id, (pending.current.get(id) ?? 0) + 1);
    // A move makes the next version: a second move before the server's answer is not stale.
    setColumns(
      place(current, { ...task, status, position: provisionalPosition(after, before), version: task.version + 1 }),
    );
    setNotice(null);
  };

  const onKey = (task: Task, event: KeyboardEvent) => {
    if (!canMove || !event.altKey || !columns) return;
    const column = STATUSES.indexOf(task.status);
    const index = columns[task.status].findIndex((t) => t.id === task.id);
    const to = {
      ArrowLeft: () => column > 0 && move(task.id, STATUSES[column - 1]!, columns[STATUSES[column - 1]!].length),
      ArrowRight: () =>
        column < STATUSES.length - 1 && move(task.id, STATUSES[column + 1]!, columns[STATUSES[column + 1]!].length),
      ArrowUp: () => index > 0 && move(task.id, task.status, index - 1),
      ArrowDown: () => index < columns[task.status].length - 1 && move(task.id, task.status, index + 1),
    }[event.key];
    if (!to) return;
    event.preventDefault();
    to();
    setFocusId(task.id);
  };

  /** Which slot of `status` the pointer is over: before the first card whose middle is below it. */
  const dropIndex = (list: HTMLElement, y: number, draggedId: string) => {
    const cards = [...list.querySelectorAll<HTMLElement>('[data-task-id]')].filter(
      (el) => el.dataset.taskId !== draggedId,
    );
    const index = cards.findIndex((el) => {
      const box = el.getBoundingClientRect();
      return y < box.top + box.height / 2;
    });
    return index === -1 ? cards.length : index;
  };

  if (live.ended)
    return (
      <Page title="Board">
        <ErrorNote error={live.ended} />
        <Link to={href(org, 'projects')}>All projects</Link>
      </Page>
    );

  return (
    <Page
      title={project.data?.name ?? 'Board'}
      actions={
        <>
          <span class={`connection ${live.state}`} role="status">
            {humanize(live.state)}
          </span>
          <span class="presence" aria-label="Watching this board">
            {watchers.map((w) => (
              <Avatar key={`${w.type}:${w.id}`} name={w.name} title={`${w.name ?? 'Someone'} is watching`} />
            ))}
          </span>
        </>
      }
    >
      <p class="row small">
        <Link to={href(org, 'projects')}>All projects</Link>
        <Link to={`${href(org, 'assistant')}?context_type=project&context_id=${projectId}`}>
          Ask the assistant about it
        </Link>
      </p>
      {canMove ? (
        <p class="hint">Drag cards, or focus one and press Alt with the arrow keys.</p>
      ) : (
        <p class="hint">
          You are watching: moving tasks needs the <code>tasks:write</code> permission.
        </p>
      )}
      {notice && <ErrorNote error={notice} retry={() => setNotice(null)} />}
      {canMove && (
        <NewTask org={org} projectId={projectId} onCreated={(task) => setColumns((c) => c && place(c, task))} />
      )}
      {!columns ? (
        <Loading what="Connecting to the board" />
      ) : (
        <div class="board">
          {STATUSES.map((status) => (
            <section key={status} class="column" data-column={status} aria-label={humanize(status)}>
              <h2>
                {humanize(status)} <small>{columns[status].length}</small>
              </h2>
              <ol
                class={`cards-list${drag?.over?.status === status ? ' over' : ''}`}
                onDragOver={(e) => {
                  if (!drag) return;
                  e.preventDefault();
                  const index = dropIndex(e.currentTarget, e.clientY, drag.id);
                  if (drag.over?.status !== status || drag.over.index !== index)
                    setDrag({ id: drag.id, over: { status, index } });
                }}
                onDrop={(e) => {
                  e.preventDefault();
                  if (drag) move(drag.id, status, dropIndex(e.currentTarget, e.clientY, drag.id));
                  setDrag(null);
                }}
              >
                {columns[status].length === 0 && <li class="empty-column">Nothing here</li>}
                {columns[status].map((task) => (
                  <li
                    key={task.id}
                    data-task-id={task.id}
                    class={`task ${task.priority}${flash[task.id] ? ` ${flash[task.id]}` : ''}${drag?.id === task.id ? ' dragging' : ''}`}
                    tabIndex={0}
                    draggable={canMove}
                    aria-disabled={!canMove}
                    aria-keyshortcuts={canMove ? 'Alt+ArrowLeft Alt+ArrowRight Alt+ArrowUp Alt+ArrowDown' : undefined}
                    onDragStart={(e) => {
                      e.dataTransfer?.setData('text/plain', task.id);
                      setDrag({ id: task.id });
                    }}
                    onDragEnd={() => setDrag(null)}
                    onKeyDown={(e) => onKey(task, e)}
                  >
                    <span class="title">{task.title}</span>
                    <small>
                      {humanize(task.priority)}
                      {task.due_date ? ` · due ${task.due_date}` : ''}
                    </small>
                  </li>
                ))}
              </ol>
            </section>
          ))}
        </div>
      )}
    </Page>
  );
}

function NewTask({ org, projectId, onCreated }: { org: string; projectId: string; onCreated: (task: Task) => void }) {
  const [title, setTitle] = useState('');
  const create = useAction(async () => {
    onCreated(
      unwrap(
        await api.POST('/v1/orgs/{org}/projects/{id}/tasks', {
          params: { path: { org, id: projectId } },
          body: { title: title.trim() },
        }),
      ),
    );
    setTitle('');
  });
  return (
    <form
      class="row"
      onSubmit={(e) => {
        e.preventDefault();
        create.run();
      }}
    >
      <input
        aria-label="New task"
        required
        maxLength={200}
        value={title}
        placeholder="A new task"
        onInput={(e) => setTitle(e.currentTarget.value)}
      />
      <button type="submit" disabled={create.pending}>
        Add task
      </button>
      <ErrorNote error={create.error} />
    </form>
  );
}
