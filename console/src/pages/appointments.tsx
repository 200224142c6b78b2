// Appointments: a week at a time (everyone's, or mine), booking (the server refuses a slot the
// assignee already holds, naming the appointment that holds it, which the week then marks), and
// the calendar feed's URL for a calendar app (.ics, shown once).
import { useState } from 'preact/hooks';
import { api, collect, may, unwrap, type Schemas } from '../api';
import { useAction, useLoad } from '../hooks';
import type { OrgProps } from '../main';
import { CopyButton, ErrorNote, Field, humanize, Page, Select, States } from '../ui';

type Appointment = Schemas['Appointment'];
const DAY_MS = 86_400_000;

/** Monday 00:00 (local) of the week holding `day`. */
function weekOf(day: Date): Date {
  const start = new Date(day.getFullYear(), day.getMonth(), day.getDate());
  start.setDate(start.getDate() - ((start.getDay() + 6) % 7));
  return start;
}
const addDays = (day: Date, n: number) => new Date(day.getFullYear(), day.getMonth(), day.getDate() + n);
const localDate = (day: Date) =>
  `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
const time = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
/** The appointment a 409's detail names as holding the slot. */
const clashIn = (detail: string) => detail.match(/appointment ([0-9a-f-]{36})/)?.[1] ?? null;

export function Appointments({ membership }: OrgProps) {
  const org = membership.organization.slug;
  const [week, setWeek] = useState(() => weekOf(new Date()));
  const [whose, setWhose] = useState<'' | 'me'>('');
  const end = addDays(week, 7);
  const appointments = useLoad(
    () =>
      collect((cursor) =>
        api
          .GET('/v1/orgs/{org}/appointments', {
            params: {
              path: { org },
              query: {
                limit: 100,
                cursor,
                from: week.toISOString(),
                to: end.toISOString(),
                ...(whose ? { assigned_to: whose } : {}),
              },
            },
          })
          .then(unwrap),
      ),
    [org, week.getTime(), whose],
  );
  const members = useLoad(
    () =>
      collect((cursor) =>
        api.GET('/v1/orgs/{org}/members', { params: { path: { org }, query: { limit: 100, cursor } } }).then(unwrap),
      ),
    [org],
  );
  const [clash, setClash] = useState<string | null>(null);
  const nameOf = (userId: string | null) => members.data?.find((m) => m.user_id === userId)?.user.name ?? '';
  const days = Array.from({ length: 7 }, (_, n) => addDays(week, n));
  const today = localDate(new Date());

  return (
    <Page
      title="Appointments"
      actions={
        <>
          <button type="button" onClick={() => setWeek(addDays(week, -7))} aria-label="Previous week">
            ←
          </button>
          <button type="button" onClick={() => setWeek(weekOf(new Date()))}>
            This week
          </button>
          <button type="button" onClick={() => setWeek(addDays(week, 7))} aria-label="Next week">
            →
          </button>
          <Select
            label="Whose"
            value={whose}
            options={[
              ['', 'Everyone'],
              ['me', 'Mine'],
            ]}
            onChange={setWhose}
          />
        </>
      }
    >
      <h2>
        {week.toLocaleDateString(undefined, { dateStyle: 'medium' })} –{' '}
        {addDays(week, 6).toLocaleDateString(undefined, { dateStyle: 'medium' })}
      </h2>
      <States loaded={appointments}>
        {(list) => (
          <div class="week">
            {days.map((day) => {
              const of = list
                .filter(
                  (a) => Date.parse(a.start_time) < day.getTime() + DAY_MS && Date.parse(a.end_time) > day.getTime(),
                )
                .sort((a, b) => a.start_time.localeCompare(b.start_time));
              return (
                <section
                  key={day.getTime()}
                  class={`day${localDate(day) === today ? ' today' : ''}`}
                  aria-label={day.toDateString()}
                >
                  <h2>{day.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })}</h2>
                  {of.length === 0 && <small class="state">Free</small>}
                  {of.map((a) => (
                    <div
                      key={a.id}
                      data-appointment-id={a.id}
                      class={`appointment ${a.status}${a.id === clash ? ' conflict' : ''}`}
                    >
                      <strong>
                        {time(a.start_time)}–{time(a.end_time)}
                      </strong>{' '}
                      {a.title}
                      <br />
                      <small>
                        {nameOf(a.assigned_to)}
                        {a.status !== 'scheduled' ? ` · ${humanize(a.status)}` : ''}
                      </small>
                    </div>
                  ))}
                </section>
              );
            })}
          </div>
        )}
      </States>
      {may(membership.role, 'member') && (
        <Book
          org={org}
          members={members.data ?? []}
          defaultDay={localDate(week.getTime() > Date.now() ? week : new Date())}
          onBooked={(booked) => {
            setClash(null);
            const start = new Date(booked.start_time);
            if (start < week || start >= end) setWeek(weekOf(start));
            else appointments.reload();
          }}
          onClash={setClash}
        />
      )}
      <Feed org={org} />
    </Page>
  );
}

function Book({
  org,
  members,
  defaultDay,
  onBooked,
  onClash,
}: {
  org: string;
  members: Schemas['Member'][];
  defaultDay: string;
  onBooked: (a: Appointment) => void;
  onClash: (id: string | null) => void;
}) {
  const [form, setForm] = useState({ title: '', day: defaultDay, from: '10:00', to: '10:30', assignee: '' });
  const book = useAction(async () => {
    const at = (clock: string) => new Date(`${form.day}T${clock}`).toISOString();
    const result = await api.POST('/v1/orgs/{org}/appointments', {
      params: { path: { org } },
      body: {
        title: form.title.trim(),
        start_time: at(form.from),
        end_time: at(form.to),
        ...(form.assignee ? { assigned_to: form.assignee } : {}),
      },
    });
    // A double booking: the week marks the appointment holding the slot.
    if (result.response.status === 409 && result.error) onClash(clashIn(result.error.detail));
    onBooked(unwrap(result));
    setForm({ ...form, title: '' });
  });
  const set = (key: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [key]: e.currentTarget.value });
  return (
    <form
      class="row"
      aria-label="Book an appointment"
      onSubmit={(e) => {
        e.preventDefault();
        onClash(null);
        book.run();
      }}
    >
      <Field label="Title">
        <input required maxLength={200} value={form.title} onInput={set('title')} />
      </Field>
      <Field label="Day">
        <input type="date" required value={form.day} onInput={set('day')} />
      </Field>
      <Field label="From">
        <input type="time" required value={form.from} onInput={set('from')} />
      </Field>
      <Field label="To">
        <input type="time" required value={form.to} onInput={set('to')} />
      </Field>
      <Field label="Assignee">
        <Select
          value={form.assignee}
          options={[
            ['', 'Nobody'],
            ...members.map((m) => [m.user_id, m.user.name ?? m.user.email] as [string, string]),
          ]}
          onChange={(assignee) => setForm({ ...form, assignee })}
        />
      </Field>
      <button type="submit" class="primary" disabled={book.pending}>
        Book
      </button>
      <ErrorNote error={book.error} />
    </form>
  );
}

function Feed({ org }: { org: string }) {
  const [feed, setFeed] = useState<Schemas['CalendarFeedToken'] | null>(null);
  const make = useAction(async () =>
    setFeed(unwrap(await api.POST('/v1/orgs/{org}/appointments/feed-token', { params: { path: { org } } }))),
  );
  return (
    <section class="stack" aria-label="Calendar feed">
      <h2>Calendar feed (.ics)</h2>
      <p class="hint">Subscribe to your appointments from a calendar app. Making a new URL turns the old one off.</p>
      {feed ? (
        <div class="notice">
          <p>Shown this once:</p>
          <p class="secret">
            <a href={feed.feed_url}>{feed.feed_url}</a>
          </p>
          <div class="row small">
            <CopyButton text={feed.feed_url} label="Copy URL" />
            <a href={feed.webcal_url}>Open in a calendar app</a>
          </div>
        </div>
      ) : (
        <div>
          <button type="button" onClick={() => make.run()} disabled={make.pending}>
            Make my feed URL
          </button>
        </div>
      )}
      <ErrorNote error={make.error} />
    </section>
  );
}
