// The chat (issue 4): …/conversations/{id}/ws and POST …/messages through the Worker as deployed
// (SELF), served by the conversation's CHAT_SESSION object, answered by the local provider (no
// key is configured in tests). Provider shapes and failures are in ai-providers.test.ts.
import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { D1Sessions } from '../src/db/sessions';
import { fromPortable } from '../src/auth/tenant';
import type { ConversationMessage } from '../src/db/tenant';
import type { Bindings } from '../src/env';
import { MAX_TOOL_RESULT_BYTES } from '../src/modules/ai/turn';
import { appendTurn, CONVERSATION_LIMITS } from '../src/modules/conversations/service';
import { CLOSE_CODES } from '../src/realtime/socket-room';
import { chatSessions } from '../src/realtime/chat-session';
import { seedAiTools } from './ai-fixtures';
import {
  api,
  expectProblem,
  interceptStatements,
  joinAs,
  newOrg,
  openSocket,
  refuseRateLimitKey,
  runAccessRecheck,
  type TestOrg,
  type TestUser,
  shardOf,
  placeOf,
} from './helpers';

beforeAll(seedAiTools);

type Message = { type: string; [key: string]: any };

const chatWs = (org: TestOrg, id: string) => `https://strive.test/v1/orgs/${org.slug}/conversations/${id}/ws`;

/** A chat socket that records what it receives and lets a test wait for a matching message. */
export async function connectChat(org: TestOrg, id: string, token: string) {
  const socket = await openSocket(new URL(chatWs(org, id)).pathname, token);
  return { ...socket, ofType: (type: string, n = 1) => socket.until((m) => m.type === type, n) };
}

async function newConversation(org: TestOrg, body: Record<string, unknown> = {}, token = org.owner.token) {
  const res = await api('POST', `/v1/orgs/${org.slug}/conversations`, {
    token,
    body: { context_type: 'general', ai_model: 'openai_gpt4', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const getConversation = async (org: TestOrg, id: string) =>
  (await api('GET', `/v1/orgs/${org.slug}/conversations/${id}`, { token: org.owner.token })).body;

/** The text a client builds from the deltas of one message. */
const textOf = (log: Message[], messageId: string) =>
  log
    .filter((m) => m.type === 'delta' && m.message_id === messageId)
    .map((m) => m.text)
    .join('');

describe('the chat socket', () => {
  it(
    'sends the history on connect, echoes a user message to every client, streams deltas to both and ends with ' +
      'done and the usage',
    async () => {
      const org = await newOrg();
      const id = await newConversation(org);
      const a = await connectChat(org, id, org.owner.token);
      const b = await connectChat(org, id, org.owner.token);
      expect((await a.ofType('history')).messages).toEqual([]);
      expect(a.log[0]!.type).toBe('history');

      a.send({ type: 'user_message', content: 'What is on my plate?' });
      for (const client of [a, b]) {
        const echo = await client.ofType('message');
        expect(echo.message).toMatchObject({ role: 'user', content: 'What is on my plate?' });
      }
      const done = await b.ofType('done');
      await a.ofType('done');
      expect(done.message).toMatchObject({ role: 'assistant', status: 'complete', model: 'local/echo-1' });
      expect(done.message.content).toContain('What is on my plate?');
      expect(done.usage.total_tokens).toBe(done.usage.prompt_tokens + done.usage.completion_tokens);
      expect(done.usage.completion_tokens).toBeGreaterThan(0);
      // Several deltas, which add up to the message, the same on both clients.
      expect(a.log.filter((m) => m.type === 'delta').length).toBeGreaterThan(3);
      expect(textOf(a.log, done.message.id)).toBe(done.message.content);
      expect(textOf(b.log, done.message.id)).toBe(done.message.content);

      // Stored when the turn ended, and the tokens added up; `done` carries the Strive-Bookmark
      // after the write, with which the client reads it back.
      expect(done.bookmark).toMatch(/(^|\|)shard_\d+:[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}($|\|)/);
      const stored = (
        await api('GET', `/v1/orgs/${org.slug}/conversations/${id}`, {
          token: org.owner.token,
          headers: { 'strive-bookmark': done.bookmark },
        })
      ).body;
      expect(stored.conversation_data.map((m: Message) => [m.role, m.status ?? null])).toEqual([
        ['user', null],
        ['assistant', 'complete'],
      ]);
      expect(stored.conversation_data[1]).toEqual(done.message);
      expect(stored.usage_tokens).toBe(done.usage.total_tokens);

      // A later client gets both messages as history.
      const c = await connectChat(org, id, org.owner.token);
      expect((await c.ofType('history')).messages).toEqual(stored.conversation_data);
      await Promise.all([a.close(), b.close(), c.close()]);
    },
  );

  it(
    "costs a later turn 3 D1 round trips: the access re-read, the quota, the turn's write (done says so where " +
      'EXPOSE_D1_ROUND_TRIPS is set)',
    async () => {
      const org = await newOrg();
      const id = await newConversation(org);
      const watcher = await connectChat(org, id, org.owner.token);
      const client = await connectChat(org, id, org.owner.token);
      await client.ofType('history');
      client.send({ type: 'user_message', content: 'First' });
      await client.ofType('done');
      // The object keeps the conversation (read on connect) and the tools catalog in memory.
      client.send({ type: 'user_message', content: 'Second' });
      const done = await client.ofType('done', 2);
      expect(done.message.status).toBe('complete');
      expect(done.d1_round_trips).toBe(3);
      // Every client hears the same `done`.
      expect((await watcher.ofType('done', 2)).d1_round_trips).toBe(3);
      await Promise.all([watcher.close(), client.close()]);
    },
  );

  it('summarises the linked project, with its open tasks, into the prompt', async () => {
    const org = await newOrg();
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: org.owner.token,
      body: { name: 'Relaunch' },
    });
    for (const body of [
      { title: 'Open one' },
      { title: 'Done one', status: 'done' },
      { title: 'Open two', status: 'review' },
    ]) {
      await api('POST', `/v1/orgs/${org.slug}/projects/${project.body.id}/tasks`, { token: org.owner.token, body });
    }
    const id = await newConversation(org, { context_type: 'project', context_id: project.body.id });
    const a = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: 'Status?' });
    const done = await a.ofType('done');
    // The local model repeats the context it was given: the project, and its open tasks (newest first) only.
    expect(done.message.content).toContain('Context: the project "Relaunch"');
    expect(done.message.content).toContain('Open tasks (2): [review] Open two; [todo] Open one.');
    expect(done.message.content).not.toContain('Done one');
    await a.close();
  });

  it('refuses a second user message while an answer is being generated, and accepts one after', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const a = await connectChat(org, id, org.owner.token);
    const b = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: 'first' });
    await b.ofType('delta');
    b.send({ type: 'user_message', content: 'second' });
    expect(await b.ofType('error')).toMatchObject({ code: 'generation_in_progress' });
    // Over HTTP too: the same object, the same rule.
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
        token: org.owner.token,
        body: { content: 'third' },
      }),
      409,
      'generation_in_progress',
    );
    await a.ofType('done');
    b.send({ type: 'user_message', content: 'second, again' });
    await b.ofType('done', 2);
    const stored = await getConversation(org, id);
    expect(stored.conversation_data.filter((m: Message) => m.role === 'user').map((m: Message) => m.content)).toEqual([
      'first',
      'second, again',
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it('cancel stops the answer and keeps its partial text, marked cancelled', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const a = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: 'Tell me a long story' });
    await a.ofType('delta', 2);
    a.send({ type: 'cancel' });
    const done = await a.ofType('done');
    expect(done.message.status).toBe('cancelled');
    expect(done.message.content).toBe(textOf(a.log, done.message.id));
    expect(done.message.content.length).toBeGreaterThan(0);
    expect(done.message.content).not.toContain('Context:'); // the end of the full answer never came
    const stored = await getConversation(org, id);
    expect(stored.conversation_data[1]).toMatchObject({ status: 'cancelled', content: done.message.content });
    await a.close();
  });

  it('a provider failure ends the turn with an error, then done with what was said, marked failed', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const a = await connectChat(org, id, org.owner.token);
    const b = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: '/fail provider_rate_limited' });
    for (const client of [a, b]) {
      const error = await client.ofType('error');
      const done = await client.ofType('done');
      expect(error).toMatchObject({ code: 'provider_rate_limited', message_id: done.message.id });
      expect(client.log.indexOf(error)).toBeLessThan(client.log.indexOf(done));
      expect(done.message).toMatchObject({
        status: 'failed',
        content: 'This answer stops here:',
        error: { code: 'provider_rate_limited' },
      });
    }
    expect((await getConversation(org, id)).conversation_data[1]).toMatchObject({
      status: 'failed',
      content: 'This answer stops here:',
    });
    // The conversation is free again.
    a.send({ type: 'user_message', content: 'and now?' });
    expect((await a.ofType('done', 2)).message.status).toBe('complete');
    // Over HTTP: 502 provider_error naming the kind.
    const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: '/fail provider_timeout' },
    });
    expectProblem(res, 502, 'provider_error');
    expect(res.body.detail).toContain('provider_timeout');
    await Promise.all([a.close(), b.close()]);
  });

  it('a client that reconnects mid-answer gets the history, the text so far, then the rest', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const a = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: 'Replay me' });
    await a.ofType('delta', 3);
    await a.close(); // the generation belongs to the object: it goes on
    const b = await connectChat(org, id, org.owner.token);
    const history = await b.ofType('history');
    expect(history.messages).toMatchObject([{ role: 'user', content: 'Replay me' }]);
    const done = await b.ofType('done');
    expect(b.log[1]).toMatchObject({ type: 'delta', message_id: done.message.id });
    expect(b.log[1]!.text.split(' ').length).toBeGreaterThan(2); // the partial text, as one delta
    expect(textOf(b.log, done.message.id)).toBe(done.message.content);
    expect(done.message.status).toBe('complete');
    await b.close();
  });

  it('refuses what it cannot take: bad JSON, unknown types, empty or oversize content (a viewer: below)', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const a = await connectChat(org, id, org.owner.token);
    a.send('not json');
    expect(await a.ofType('error')).toMatchObject({ code: 'invalid_request' });
    a.send({ type: 'shout' });
    expect(await a.ofType('error', 2)).toMatchObject({ code: 'invalid_request' });
    a.send({ type: 'user_message', content: '   ' });
    expect(await a.ofType('error', 3)).toMatchObject({ code: 'invalid_request' });
    a.send({ type: 'user_message', content: 'x'.repeat(8001) });
    expect(await a.ofType('error', 4)).toMatchObject({ code: 'invalid_request' });
    a.send({ type: 'user_message', content: 'x'.repeat(40 * 1024) });
    expect(await a.ofType('error', 5)).toMatchObject({ code: 'payload_too_large' });
    // Every socket room answers `ping`, as the board does.
    a.send({ type: 'ping' });
    expect(await a.ofType('pong')).toEqual({ type: 'pong' });
    expect(a.log.filter((m) => m.type === 'error')).toHaveLength(5);
    await a.close();
  });

  it('checks membership and the conversation before the upgrade', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const member = await joinAs(org, 'member');
    const outsider = await newOrg();
    const upgrade = (token?: string, orgRef = org.slug) =>
      SELF.fetch(`https://strive.test/v1/orgs/${orgRef}/conversations/${id}/ws${token ? `?token=${token}` : ''}`, {
        headers: { upgrade: 'websocket' },
      });
    expect((await upgrade()).status).toBe(401);
    expect((await upgrade(outsider.owner.token)).status).toBe(404);
    // A member sees only their own conversations.
    expect((await upgrade(member.token)).status).toBe(404);
    expect((await api('GET', `/v1/orgs/${org.slug}/conversations/${id}/ws`, { token: org.owner.token })).status).toBe(
      426,
    );
  });
});

describe('POST …/messages', () => {
  it('answers with the assistant message as JSON, through the same object the sockets watch', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const watcher = await connectChat(org, id, org.owner.token);
    const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: 'Hello' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ role: 'assistant', status: 'complete', model: 'local/echo-1' });
    expect(res.body.content).toContain('Hello');
    const done = await watcher.ofType('done');
    expect(done.message).toEqual(res.body);
    expect((await watcher.ofType('message')).message.content).toBe('Hello');
    // A later turn: the visibility check, the quota, and the turn's one write (the object keeps
    // the conversation and the catalog's tools in memory).
    const again = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: 'Again' },
    });
    expect(again.status).toBe(201);
    expect(again.roundTrips).toBe(3);
    await watcher.close();
  });

  it('streams server-sent events ending with done and the usage when asked to', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const res = await SELF.fetch(`https://strive.test/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${org.owner.token}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({ content: 'Stream it' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text())
      .trim()
      .split('\n\n')
      .map((frame) => {
        const [event, data] = frame.split('\n');
        return { event: event!.replace('event: ', ''), data: JSON.parse(data!.replace('data: ', '')) };
      });
    expect(events[0]).toMatchObject({ event: 'message', data: { message: { role: 'user', content: 'Stream it' } } });
    expect(events.at(-1)!.event).toBe('done');
    const { message, usage } = events.at(-1)!.data;
    expect(
      events
        .filter((e) => e.event === 'delta')
        .map((e) => e.data.text)
        .join(''),
    ).toBe(message.content);
    expect(usage.total_tokens).toBeGreaterThan(0);
  });

  it('runs a tool as the assistant: the task is created through the board, audited with actor_type ai', async () => {
    // create_task needs the basic tier: the organization subscribes.
    const org = await newOrg();
    await env.CATALOG.prepare("UPDATE subscriptions SET tier = 'basic' WHERE organization_id = ?").bind(org.id).run();
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: org.owner.token,
      body: { name: 'Tools' },
    });
    const id = await newConversation(org, { context_type: 'project', context_id: project.body.id });
    const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: `/tool create_task {"project_id": "${project.body.id}", "title": "Call Dana"}` },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.content).toContain('Call Dana');
    const tasks = await api('GET', `/v1/orgs/${org.slug}/projects/${project.body.id}/tasks`, {
      token: org.owner.token,
    });
    expect(tasks.body.data.map((t: { title: string }) => t.title)).toEqual(['Call Dana']);
    const task = tasks.body.data[0];
    expect(task.created_by).toBe(org.owner.id);
    const audit = await (
      await shardOf(org.id)
    ).db
      .prepare(
        "SELECT actor_type, actor_id, user_id FROM activity_logs WHERE resource_id = ? AND action = 'task.create'",
      )
      .bind(task.id)
      .first();
    expect(audit).toEqual({ actor_type: 'ai', actor_id: id, user_id: org.owner.id });
    // The tool's call and result are kept between the user message and the answer.
    const stored = await getConversation(org, id);
    expect(stored.conversation_data.map((m: Message) => m.role)).toEqual(['user', 'tool', 'assistant']);
    expect(stored.conversation_data[1].tool.name).toBe('create_task');
  });

  it('keeps a tool result over the cap cut, with the note the model reads, in the conversation', async () => {
    const org = await newOrg();
    // 25 customers (the tool's most) with 200 two-byte characters in name and company: ~22 KB of JSON.
    for (let n = 0; n < 25; n++) {
      const created = await api('POST', `/v1/orgs/${org.slug}/customers`, {
        token: org.owner.token,
        body: { name: `Dana ${n} ${'é'.repeat(190)}`, company: 'ü'.repeat(200) },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    const id = await newConversation(org);
    const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: '/tool search_customers {"query": "dana", "limit": 25}' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const tool = (await getConversation(org, id)).conversation_data[1];
    expect(tool).toMatchObject({ role: 'tool', tool: { name: 'search_customers' } });
    expect(new TextEncoder().encode(tool.content).length).toBeLessThanOrEqual(MAX_TOOL_RESULT_BYTES);
    expect(tool.content).toMatch(/^\{"result":\[\{"id":/);
    expect(tool.content).toMatch(
      /\n… \(truncated: the result was \d+ bytes of JSON, only its beginning is shown; ask for fewer or narrower results\)$/,
    );
    // The local model answers with the beginning of what it was sent: the same text.
    expect(res.body.content).toContain('The tool answered: {"result":[{"id":');
  });

  it("does not offer a tool above the tier, and a tool runs with the caller's permissions", async () => {
    const org = await newOrg(); // free: create_task needs basic
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: org.owner.token,
      body: { name: 'Free' },
    });
    const id = await newConversation(org);
    const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: `/tool create_task {"project_id": "${project.body.id}", "title": "Nope"}` },
    });
    // Not offered, so the local model answers in words instead of calling it.
    expect(res.body.content).toContain('You asked');
    expect(
      (await api('GET', `/v1/orgs/${org.slug}/projects/${project.body.id}/tasks`, { token: org.owner.token })).body
        .data,
    ).toEqual([]);

    // A viewer's search runs as the viewer: their own conversation, tasks they can read.
    const viewer = await joinAs(org, 'viewer');
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/conversations`, {
        token: viewer.token,
        body: { context_type: 'general', ai_model: 'gemini' },
      }),
      403,
      'forbidden',
    );
    const member: TestUser = await joinAs(org, 'member', { deny: ['customers:read'] });
    const mine = await newConversation(org, {}, member.token);
    const search = await api('POST', `/v1/orgs/${org.slug}/conversations/${mine}/messages`, {
      token: member.token,
      body: { content: '/tool search_customers {"query": "dana"}' },
    });
    expect(search.body.content).toContain('forbidden');
  });

  it('meters each turn as one ai_tokens usage event with its own id, named by the model', async () => {
    // The Worker and its objects share the test's bindings: the queue's producer is observed here.
    const queue = env.USAGE_QUEUE as unknown as { send: (message: unknown, options?: unknown) => Promise<void> };
    const send = queue.send;
    const sent: {
      id: string;
      organization_id: string;
      user_id: string;
      resource_type: string;
      resource_name: string;
      quantity: number;
    }[] = [];
    queue.send = function (message, options) {
      sent.push(message as (typeof sent)[number]);
      return send.call(this, message, options);
    };
    try {
      const org = await newOrg();
      const id = await newConversation(org);
      const turns = [];
      for (const content of ['one', 'two']) {
        turns.push(
          (
            await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
              token: org.owner.token,
              body: { content },
            })
          ).body,
        );
      }
      // The organization's other events (seats, api_calls) are not the turns'.
      const ours = sent.filter((event) => event.organization_id === org.id && event.resource_type === 'ai_tokens');
      expect(ours).toEqual(
        turns.map((turn) =>
          expect.objectContaining({
            resource_type: 'ai_tokens',
            resource_name: 'local/echo-1',
            quantity: turn.usage.total_tokens,
            user_id: org.owner.id,
          }),
        ),
      );
      expect(new Set(ours.map((event) => event.id)).size).toBe(2);
      expect((await getConversation(org, id)).usage_tokens).toBe(
        turns[0].usage.total_tokens + turns[1].usage.total_tokens,
      );
    } finally {
      queue.send = send;
    }
  });

  it("refuses a turn with 402 quota_exceeded once the month's ai_tokens are spent (socket: an error message)", async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const period = `${new Date().toISOString().slice(0, 7)}-01`;
    await (
      await shardOf(org.id)
    ).db
      .prepare(
        'INSERT INTO usage_tracking (id, organization_id, resource_type, resource_name, usage_amount, ' +
          "billing_period, metadata, created_at, updated_at) VALUES (?, ?, 'ai_tokens', 'gpt-4o', 50000, ?, '{}', " +
          '?, ?)',
      )
      .bind(crypto.randomUUID(), org.id, period, new Date().toISOString(), new Date().toISOString())
      .run();
    expectProblem(
      await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
        token: org.owner.token,
        body: { content: 'Hi' },
      }),
      402,
      'quota_exceeded',
    );
    const a = await connectChat(org, id, org.owner.token);
    a.send({ type: 'user_message', content: 'Hi' });
    expect(await a.ofType('error')).toMatchObject({ code: 'quota_exceeded' });
    expect(a.log.some((m) => m.type === 'message')).toBe(false); // refused before the echo
    expect((await getConversation(org, id)).conversation_data).toEqual([]);
    await a.close();
  });
});

describe('the socket acts with its access as of each message', () => {
  const setRole = (org: TestOrg, user: TestUser, role: string) =>
    api('PATCH', `/v1/orgs/${org.slug}/members/${user.id}`, { token: org.owner.token, body: { role } });

  it("a removed member's open socket is refused its next message and closed with 4403", async () => {
    const org = await newOrg();
    const member = await joinAs(org, 'member');
    const id = await newConversation(org, {}, member.token);
    const socket = await connectChat(org, id, member.token);
    socket.send({ type: 'user_message', content: 'still here' });
    expect((await socket.ofType('done')).message.status).toBe('complete');

    expect((await api('DELETE', `/v1/orgs/${org.slug}/members/${member.id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    socket.send({ type: 'user_message', content: 'and now?' });
    expect(await socket.ofType('error')).toMatchObject({ code: 'forbidden' });
    expect(await socket.closed).toBe(CLOSE_CODES.accessEnded);
    // Refused before the turn: nothing echoed, nothing stored.
    expect(socket.log.filter((m) => m.type === 'message')).toHaveLength(1);
    expect((await getConversation(org, id)).conversation_data).toHaveLength(2);
  });

  it(
    'a viewer reads (history and every broadcast) but may neither send nor cancel; demoted on an open socket, they ' +
      'are refused from the next message',
    async () => {
      const org = await newOrg();
      const member = await joinAs(org, 'member');
      const id = await newConversation(org, {}, member.token);
      const socket = await connectChat(org, id, member.token);
      expect((await setRole(org, member, 'viewer')).status).toBe(200);
      // The open socket: its next message is refused as a viewer's, and the socket stays open.
      socket.send({ type: 'user_message', content: 'may I?' });
      expect(await socket.ofType('error')).toMatchObject({ code: 'forbidden' });

      // A viewer connects to their own conversation (conversations:read) and gets its history…
      const viewer = await connectChat(org, id, member.token);
      expect((await viewer.ofType('history')).messages).toEqual([]);
      // …and what others say in it (an owner sees every conversation).
      const owner = await connectChat(org, id, org.owner.token);
      owner.send({ type: 'user_message', content: 'from the owner' });
      await viewer.ofType('delta');
      viewer.send({ type: 'cancel' });
      expect(await viewer.ofType('error')).toMatchObject({ code: 'forbidden' });
      const done = await viewer.ofType('done');
      expect(done.message.status).toBe('complete'); // the viewer's cancel did not stop it
      viewer.send({ type: 'user_message', content: 'me too' });
      expect(await viewer.ofType('error', 2)).toMatchObject({ code: 'forbidden' });
      expect(viewer.log.filter((m) => m.type === 'message').map((m) => m.message.content)).toEqual(['from the owner']);

      // A viewer never sees another's conversation, socket included.
      const other = await joinAs(org, 'viewer');
      const upgrade = await SELF.fetch(`${chatWs(org, id)}?token=${other.token}`, {
        headers: { upgrade: 'websocket' },
      });
      expect(upgrade.status).toBe(404);
      await Promise.all([socket.close(), viewer.close(), owner.close()]);
    },
  );

  it("a downgraded organization's open socket no longer gets the tools of the higher tier", async () => {
    const org = await newOrg();
    await env.CATALOG.prepare("UPDATE subscriptions SET tier = 'basic' WHERE organization_id = ?").bind(org.id).run();
    const project = await api('POST', `/v1/orgs/${org.slug}/projects`, {
      token: org.owner.token,
      body: { name: 'Tiers' },
    });
    const id = await newConversation(org);
    const socket = await connectChat(org, id, org.owner.token);
    await env.CATALOG.prepare("UPDATE subscriptions SET tier = 'free' WHERE organization_id = ?").bind(org.id).run();
    socket.send({
      type: 'user_message',
      content: `/tool create_task {"project_id": "${project.body.id}", "title": "Not on free"}`,
    });
    expect((await socket.ofType('done')).message.content).toContain('You asked'); // not offered: answered in words
    expect(
      (await api('GET', `/v1/orgs/${org.slug}/projects/${project.body.id}/tasks`, { token: org.owner.token })).body
        .data,
    ).toEqual([]);
    await socket.close();
  });

  it("each user_message counts against the caller's request rate limit, under the key its HTTP requests use", async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const socket = await connectChat(org, id, org.owner.token);
    const { keys, restore } = refuseRateLimitKey(`user:${org.owner.sub}`);
    try {
      socket.send({ type: 'user_message', content: 'one too many' });
      expect(await socket.ofType('error')).toMatchObject({ code: 'rate_limited' });
      expectProblem(
        await api('GET', `/v1/orgs/${org.slug}/conversations`, { token: org.owner.token }),
        429,
        'rate_limited',
      );
    } finally {
      restore();
    }
    expect(keys.filter((key) => key === `user:${org.owner.sub}`)).toHaveLength(2);
    expect(socket.log.some((m) => m.type === 'message')).toBe(false);
    socket.send({ type: 'user_message', content: 'within the limit' });
    expect((await socket.ofType('done')).message.status).toBe('complete');
    await socket.close();
  });
});

describe('the socket listens only while its access lasts', () => {
  const chatObject = (org: TestOrg, id: string) => chatSessions(env as unknown as Bindings).get(placeOf(org), id);
  const setRole = (org: TestOrg, user: TestUser, role: string) =>
    api('PATCH', `/v1/orgs/${org.slug}/members/${user.id}`, { token: org.owner.token, body: { role } });

  it(
    "closes, within the access window, an admin's socket on another's conversation once demoted to member; it " +
      'hears nothing after',
    async () => {
      const org = await newOrg();
      const [admin, author] = [await joinAs(org, 'admin'), await joinAs(org, 'member')];
      const id = await newConversation(org, {}, author.token);
      const watching = await connectChat(org, id, admin.token);
      const own = await connectChat(org, id, author.token);
      await watching.ofType('history');
      expect((await setRole(org, admin, 'member')).status).toBe(200);
      await runAccessRecheck(chatObject(org, id));
      expect(await watching.ofType('error')).toMatchObject({ code: 'forbidden' });
      expect(await watching.closed).toBe(CLOSE_CODES.accessEnded);
      // The author's socket is untouched and the conversation goes on without the admin.
      own.send({ type: 'user_message', content: 'only for me now' });
      expect((await own.ofType('done')).message.status).toBe('complete');
      expect(watching.log.filter((m) => m.type === 'message' || m.type === 'delta')).toEqual([]);
      await own.close();
    },
  );

  it(
    "closes a removed member's socket that only listens within the access window, and keeps a member demoted to " +
      'viewer on their own',
    async () => {
      const org = await newOrg();
      const [removed, demoted] = [await joinAs(org, 'member'), await joinAs(org, 'member')];
      const theirs = await newConversation(org, {}, removed.token);
      const own = await newConversation(org, {}, demoted.token);
      const gone = await connectChat(org, theirs, removed.token);
      const viewer = await connectChat(org, own, demoted.token);
      await Promise.all([gone.ofType('history'), viewer.ofType('history')]);
      expect(
        (await api('DELETE', `/v1/orgs/${org.slug}/members/${removed.id}`, { token: org.owner.token })).status,
      ).toBe(204);
      expect((await setRole(org, demoted, 'viewer')).status).toBe(200);
      await runAccessRecheck(chatObject(org, theirs));
      await runAccessRecheck(chatObject(org, own));
      expect(await gone.closed).toBe(CLOSE_CODES.accessEnded);
      // A viewer still reads their own conversation: the owner's turn reaches them.
      const owner = await connectChat(org, own, org.owner.token);
      owner.send({ type: 'user_message', content: 'for the viewer' });
      expect((await viewer.ofType('done')).message.status).toBe('complete');
      expect(viewer.log.some((m) => m.type === 'error')).toBe(false);
      await Promise.all([viewer.close(), owner.close()]);
    },
  );

  it("counts cancel, like every message, against the caller's request rate limit", async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const socket = await connectChat(org, id, org.owner.token);
    socket.send({ type: 'user_message', content: 'Tell me a long story' });
    await socket.ofType('delta', 2);
    const { restore } = refuseRateLimitKey(`user:${org.owner.sub}`);
    try {
      socket.send({ type: 'cancel' });
      expect(await socket.ofType('error')).toMatchObject({ code: 'rate_limited' });
    } finally {
      restore();
    }
    // Refused before it acted: the answer runs to its end.
    expect((await socket.ofType('done')).message.status).toBe('complete');
    await socket.close();
  });
});

describe('a turn that fails on our side', () => {
  it('a failure while starting a turn (not a refusal) answers the socket with error internal, and the next turn runs', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const socket = await connectChat(org, id, org.owner.token);
    // The quota read, inside the turn's start, fails as a broken database would (the object reads
    // through D1 sessions).
    const shard = (await shardOf(org.id)).db;
    const restore = interceptStatements(shard, (query) => {
      if (query.includes('usage_tracking')) throw new Error('forced: the shard is unreachable');
    });
    try {
      socket.send({ type: 'user_message', content: 'first' });
      expect(await socket.ofType('error')).toMatchObject({ code: 'internal' });
    } finally {
      restore();
    }
    expect(socket.log.some((m) => m.type === 'message')).toBe(false);
    socket.send({ type: 'user_message', content: 'again' });
    expect((await socket.ofType('done')).message.status).toBe('complete');
    await socket.close();
  });

  it('a turn that cannot be saved is a 500 (socket: error internal, done failed), and its tokens are metered anyway', async () => {
    const queue = env.USAGE_QUEUE as unknown as { send: (message: unknown, options?: unknown) => Promise<void> };
    const send = queue.send;
    const sent: { organization_id: string; resource_type: string; quantity: number }[] = [];
    queue.send = function (message, options) {
      sent.push(message as (typeof sent)[number]);
      return send.call(this, message, options);
    };
    const org = await newOrg();
    const id = await newConversation(org);
    const shard = (await shardOf(org.id)).db;
    const trigger = `refuse_${id.replaceAll('-', '_')}`;
    await shard
      .prepare(
        `CREATE TRIGGER ${trigger} BEFORE UPDATE ON ai_conversations WHEN OLD.id = '${id}' BEGIN SELECT ` +
          `RAISE(ABORT, 'forced write failure'); END`,
      )
      .run();
    const socket = await connectChat(org, id, org.owner.token);
    try {
      const res = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
        token: org.owner.token,
        body: { content: 'Hello' },
      });
      expectProblem(res, 500, 'internal');
      const done = await socket.ofType('done');
      expect(await socket.ofType('error')).toMatchObject({ code: 'internal', message_id: done.message.id });
      expect(done.message).toMatchObject({ status: 'failed', error: { code: 'internal' } });
      const metered = sent.filter((event) => event.organization_id === org.id && event.resource_type === 'ai_tokens');
      expect(metered).toEqual([expect.objectContaining({ quantity: done.usage.total_tokens })]);
      expect(done.usage.total_tokens).toBeGreaterThan(0);
    } finally {
      queue.send = send;
      await shard.prepare(`DROP TRIGGER ${trigger}`).run();
    }
    // Nothing of it was stored, and the conversation takes the next turn.
    expect(await getConversation(org, id)).toMatchObject({ conversation_data: [], usage_tokens: 0 });
    const next = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: 'Again' },
    });
    expect(next.status).toBe(201);
    expect((await getConversation(org, id)).conversation_data.map((m: Message) => m.content)).toEqual([
      'Again',
      next.body.content,
    ]);
    await socket.close();
  });
});

describe("a conversation's size", () => {
  const fill = async (org: TestOrg, id: string, messages: object[]) =>
    (await shardOf(org.id)).db
      .prepare('UPDATE ai_conversations SET conversation_data = ? WHERE id = ?')
      .bind(JSON.stringify(messages), id)
      .run();
  const said = (content: string) => ({ role: 'user', content, created_at: '2026-01-01T00:00:00.000Z' });

  // Just short of each limit: one more turn is taken, which reaches it.
  const shortOfBytes = [said('x'.repeat(CONVERSATION_LIMITS.maxBytes - 1000))];
  it.each([
    ['messages', Array.from({ length: CONVERSATION_LIMITS.maxMessages - 1 }, () => said('hi'))],
    ['bytes', shortOfBytes],
  ])(
    'refuses new turns once it holds its maximum of %s: 409 conversation_full (socket: an error)',
    async (_, messages) => {
      const org = await newOrg();
      const id = await newConversation(org);
      await fill(org, id, messages);
      expect(
        (
          await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
            token: org.owner.token,
            body: { content: 'y'.repeat(2000) },
          })
        ).status,
      ).toBe(201);
      expectProblem(
        await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
          token: org.owner.token,
          body: { content: 'more' },
        }),
        409,
        'conversation_full',
      );
      const socket = await connectChat(org, id, org.owner.token);
      socket.send({ type: 'user_message', content: 'more' });
      expect(await socket.ofType('error')).toMatchObject({ code: 'conversation_full' });
      expect((await getConversation(org, id)).conversation_data).toHaveLength(messages.length + 2);
      await socket.close();
    },
  );

  it('appends any number of messages with the same few bound parameters, in order', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const { shard } = (await env.CATALOG.prepare('SELECT shard FROM organizations WHERE id = ?')
      .bind(org.id)
      .first<{ shard: number }>())!;
    const ctx = fromPortable(
      env as unknown as Bindings,
      D1Sessions.primary(env),
      {
        organization: { id: org.id, slug: org.slug, name: org.slug, shard, tier: 'free', data_region: null },
        actor: { type: 'user', user: { id: org.owner.id, email: org.owner.email, name: null, role: 'employee' } },
        role: 'owner',
        permissions: [],
        clientEmail: null,
        request: { requestId: 'test', ip: null, userAgent: null },
      },
      () => {},
    );
    const batch = (from: number) =>
      Array.from({ length: 150 }, (_, i) => said(`message ${from + i}`)) as ConversationMessage[];
    await appendTurn(ctx, id, batch(0), { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    await appendTurn(ctx, id, batch(150), { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    const stored = await getConversation(org, id);
    expect(stored.conversation_data.map((m: Message) => m.content)).toEqual(
      Array.from({ length: 300 }, (_, i) => `message ${i}`),
    );
    expect(stored.usage_tokens).toBe(4);
  });
});

describe('a conversation deleted while its sockets are open', () => {
  it('closes them with 4404, stops the answer in progress and keeps nothing of it', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    const socket = await connectChat(org, id, org.owner.token);
    socket.send({ type: 'user_message', content: 'Tell me a long story' });
    await socket.ofType('delta', 2);
    expect((await api('DELETE', `/v1/orgs/${org.slug}/conversations/${id}`, { token: org.owner.token })).status).toBe(
      204,
    );
    expect(await socket.until((m) => m.type === 'error' && m.code === 'not_found')).toMatchObject({
      detail: expect.stringContaining('deleted'),
    });
    expect(await socket.closed).toBe(CLOSE_CODES.deleted);
    expect(socket.log.some((m) => m.type === 'done' && m.message.status === 'complete')).toBe(false);
    const rows = await (
      await shardOf(org.id)
    ).db
      .prepare('SELECT count(*) AS n FROM ai_conversations WHERE id = ?')
      .bind(id)
      .first<{ n: number }>();
    expect(rows!.n).toBe(0);
  });

  it('a turn whose conversation is deleted before its write is not reported complete (HTTP: 404)', async () => {
    const org = await newOrg();
    const id = await newConversation(org);
    // Deleted behind the object's back (no word to it): its copy still says the conversation exists.
    const warm = await api('POST', `/v1/orgs/${org.slug}/conversations/${id}/messages`, {
      token: org.owner.token,
      body: { content: 'hello' },
    });
    expect(warm.status).toBe(201);
    const socket = await connectChat(org, id, org.owner.token);
    await socket.ofType('history');
    await (await shardOf(org.id)).db.prepare('DELETE FROM ai_conversations WHERE id = ?').bind(id).run();
    socket.send({ type: 'user_message', content: 'are you there?' });
    const done = await socket.ofType('done');
    expect(done.message).toMatchObject({ status: 'failed', error: { code: 'not_found' } });
    await socket.close();
  });
});
