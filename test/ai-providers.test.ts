// The model providers (issue 4, "Providers"): the real `openai` SDK against fetchMock'ed
// server-sent events in each provider's shape, through the configuration the Worker reads.
import { env, fetchMock } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bindings } from '../src/env';
import {
  estimateTokens,
  providerConfig,
  providerFor,
  ProviderError,
  type AiModel,
  type ChatMessage,
  type FunctionTool,
  type Provider,
} from '../src/modules/ai/providers';
import {
  generate,
  MAX_TOOL_CALLS_PER_ROUND,
  MAX_TOOL_RESULT_BYTES,
  MAX_TOOL_ROUNDS,
  noUsage,
  type TurnProgress,
} from '../src/modules/ai/turn';
import { CONTEXT_TOKEN_BUDGET, withinBudget } from '../src/modules/ai/context';

type Chunk = Record<string, unknown>;
const sse = (chunks: (Chunk | string)[]) =>
  chunks.map((c) => `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`).join('');
const SSE_HEADERS = { headers: { 'content-type': 'text/event-stream' } };

/** One streamed answer in chat.completion.chunk form: a role chunk, the text in pieces, the finish, the usage. */
function textStream(
  model: string,
  pieces: string[],
  usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
) {
  const chunk = (delta: object, finish_reason: string | null = null) => ({
    id: 'chatcmpl-test',
    object: 'chat.completion.chunk',
    created: 1764000000,
    model,
    choices: [{ index: 0, delta, finish_reason }],
  });
  return sse([
    chunk({ role: 'assistant', content: '' }),
    ...pieces.map((content) => chunk({ content })),
    chunk({}, 'stop'),
    { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1764000000, model, choices: [], usage },
    '[DONE]',
  ]);
}

const FAMILIES: { family: AiModel; origin: string; path: string; model: string; keyName: keyof Bindings }[] = [
  {
    family: 'openai_gpt4',
    origin: 'https://api.openai.com',
    path: '/v1/chat/completions',
    model: 'gpt-4o',
    keyName: 'OPENAI_API_KEY',
  },
  {
    family: 'claude_sonnet',
    origin: 'https://api.anthropic.com',
    path: '/v1/chat/completions',
    model: 'claude-sonnet-4-5',
    keyName: 'ANTHROPIC_API_KEY',
  },
  {
    family: 'gemini',
    origin: 'https://generativelanguage.googleapis.com',
    path: '/v1beta/openai/chat/completions',
    model: 'gemini-2.5-flash',
    keyName: 'GEMINI_API_KEY',
  },
];

const withKey = (keyName: keyof Bindings, extra: Partial<Record<string, string>> = {}) =>
  ({ ...env, [keyName]: 'sk-test-key', ...extra }) as unknown as Bindings;

const question: ChatMessage[] = [
  { role: 'system', content: 'Context: none.' },
  { role: 'user', content: 'Hi?' },
];

const isPost = (input: RequestInfo | URL, init?: RequestInit) =>
  (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase() === 'POST';

/**
 * The requests the SDK sends while `run` runs, answered or not by an interceptor: a retry would
 * be counted even where no interceptor is left for it. Only POSTs (every completion is one): a
 * GET meanwhile is the runtime's other work, another test's webhook look-up finishing say.
 */
async function countingRequests<T>(run: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const original = globalThis.fetch;
  let requests = 0;
  globalThis.fetch = (input, init) => {
    if (isPost(input, init)) requests++;
    return original(input, init);
  };
  try {
    return { result: await run(), requests };
  } finally {
    globalThis.fetch = original;
  }
}

beforeEach(() => {
  fetchMock.activate();
  fetchMock.disableNetConnect();
});
afterEach(() => {
  fetchMock.assertNoPendingInterceptors();
  fetchMock.deactivate();
});

describe('configuration', () => {
  it('answers with the local provider when a family has no key', async () => {
    for (const { family } of FAMILIES)
      expect(providerConfig(env as unknown as Bindings, family)).toMatchObject({ kind: 'local' });
    const provider = providerFor(providerConfig(env as unknown as Bindings, 'gemini'));
    const deltas: string[] = [];
    const completion = await provider.complete({
      messages: question,
      tools: [],
      signal: new AbortController().signal,
      onDelta: (t) => deltas.push(t),
    });
    expect(completion.model).toBe('local/echo-1');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(completion.text);
    expect(completion.text).toContain('You asked: "Hi?"');
    expect(completion.usage.total_tokens).toBe(completion.usage.prompt_tokens + completion.usage.completion_tokens);
    // Deterministic: the same question, the same answer.
    const again = await provider.complete({
      messages: question,
      tools: [],
      signal: new AbortController().signal,
      onDelta: () => {},
    });
    expect(again.text).toBe(completion.text);
  });
});

describe.each(FAMILIES)(
  '$family through its OpenAI-compatible endpoint',
  ({ family, origin, path, model, keyName }) => {
    const provider = () => providerFor(providerConfig(withKey(keyName), family));

    it('streams the answer as deltas, with the usage of its last chunk, from the configured host and model', async () => {
      let sent:
        | { model: string; stream: boolean; stream_options: unknown; tools?: unknown; max_completion_tokens?: number }
        | undefined;
      let authorization: string | null = null;
      fetchMock
        .get(origin)
        .intercept({ path, method: 'POST' })
        .reply(
          200,
          (request) => {
            sent = JSON.parse(request.body as string);
            authorization = new Headers(request.headers as HeadersInit).get('authorization');
            return textStream(model, ['Hel', 'lo ', 'there']);
          },
          SSE_HEADERS,
        );
      const deltas: string[] = [];
      const completion = await provider().complete({
        messages: question,
        tools: [],
        signal: new AbortController().signal,
        onDelta: (t) => deltas.push(t),
      });
      expect(deltas).toEqual(['Hel', 'lo ', 'there']);
      expect(completion).toEqual({
        text: 'Hello there',
        toolCalls: [],
        usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
        model,
      });
      expect(sent).toMatchObject({
        model,
        stream: true,
        stream_options: { include_usage: true },
        max_completion_tokens: Number(env.AI_MAX_COMPLETION_TOKENS),
      });
      expect(Number(env.AI_MAX_COMPLETION_TOKENS)).toBeGreaterThan(0);
      expect(sent!.tools).toBeUndefined();
      expect(authorization).toBe('Bearer sk-test-key');
    });

    it.each([
      [401, 'provider_unauthorized'],
      [429, 'provider_rate_limited'],
      [500, 'provider_unavailable'],
      [503, 'provider_unavailable'],
    ])('ends on a %i with %s (no retry)', async (status, code) => {
      fetchMock
        .get(origin)
        .intercept({ path, method: 'POST' })
        .reply(
          status,
          { error: { message: 'nope', type: 'error' } },
          { headers: { 'content-type': 'application/json' } },
        );
      const { result: failure, requests } = await countingRequests(() =>
        provider()
          .complete({ messages: question, tools: [], signal: new AbortController().signal, onDelta: () => {} })
          .catch((e) => e),
      );
      expect(failure).toBeInstanceOf(ProviderError);
      expect(failure.code).toBe(code);
      expect(requests).toBe(1);
    });

    it('caps every request at the configured max_completion_tokens', async () => {
      let sent: { max_completion_tokens?: number } | undefined;
      fetchMock
        .get(origin)
        .intercept({ path, method: 'POST' })
        .reply(
          200,
          (request) => {
            sent = JSON.parse(request.body as string);
            return textStream(model, ['Short.']);
          },
          SSE_HEADERS,
        );
      const capped = providerFor(providerConfig(withKey(keyName, { AI_MAX_COMPLETION_TOKENS: '300' }), family));
      await capped.complete({ messages: question, tools: [], signal: new AbortController().signal, onDelta: () => {} });
      expect(sent!.max_completion_tokens).toBe(300);
    });
  },
);

describe('failures mid-answer keep what was said', () => {
  const openai = FAMILIES[0]!;
  const run = async (bindings: Bindings) => {
    const progress: TurnProgress = { text: '', usage: noUsage(), model: '', toolMessages: [] };
    const provider = providerFor(providerConfig(bindings, 'openai_gpt4'));
    const failure = await generate(
      provider,
      {
        messages: question,
        tools: [],
        signal: new AbortController().signal,
        onDelta: () => {},
        callTool: async () => null,
      },
      progress,
    ).then(
      () => null,
      (e) => e,
    );
    return { failure, progress };
  };
  const chunk = (content: string) => ({
    id: 'x',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  });

  it('a chunk that is not JSON: provider_stream_broken, the text before it kept and its tokens estimated', async () => {
    fetchMock
      .get(openai.origin)
      .intercept({ path: openai.path, method: 'POST' })
      .reply(200, sse([chunk('Half an '), chunk('answer'), '{"id": "x", "choi']), SSE_HEADERS);
    const { failure, progress } = await run(withKey('OPENAI_API_KEY'));
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure.code).toBe('provider_stream_broken');
    expect(progress.text).toBe('Half an answer');
    expect(progress.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('a stream that stops without a finish reason: provider_stream_broken', async () => {
    fetchMock
      .get(openai.origin)
      .intercept({ path: openai.path, method: 'POST' })
      .reply(200, sse([chunk('Cut o')]), SSE_HEADERS);
    const { failure, progress } = await run(withKey('OPENAI_API_KEY'));
    expect(failure.code).toBe('provider_stream_broken');
    expect(progress.text).toBe('Cut o');
  });

  it('no answer within AI_TIMEOUT_MS: provider_timeout, after one request', async () => {
    fetchMock
      .get(openai.origin)
      .intercept({ path: openai.path, method: 'POST' })
      .reply(200, textStream('gpt-4o', ['late']), SSE_HEADERS)
      .delay(1000);
    const {
      result: { failure, progress },
      requests,
    } = await countingRequests(() => run(withKey('OPENAI_API_KEY', { AI_TIMEOUT_MS: '50' })));
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure.code).toBe('provider_timeout');
    expect(progress.text).toBe('');
    expect(requests).toBe(1);
  });

  it('a stream that stalls mid-answer: provider_timeout over the whole stream, the text so far kept and its tokens estimated', async () => {
    // fetchMock answers with whole bodies; a stream that starts and then never ends needs a fetch of its own.
    const encoder = new TextEncoder();
    let requests = 0;
    const original = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      if (!isPost(input, init)) return original(input, init); // not the SDK's
      requests++;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode(sse([chunk('Half an '), chunk('answer')])));
          init?.signal?.addEventListener('abort', () => controller.error(init.signal!.reason));
        },
      });
      return new Response(body, SSE_HEADERS);
    };
    try {
      const { failure, progress } = await run(withKey('OPENAI_API_KEY', { AI_TIMEOUT_MS: '100' }));
      expect(failure).toBeInstanceOf(ProviderError);
      expect(failure.code).toBe('provider_timeout');
      expect(progress.text).toBe('Half an answer');
      expect(progress.usage.completion_tokens).toBe(estimateTokens('Half an answer'));
      expect(requests).toBe(1);
    } finally {
      globalThis.fetch = original;
    }
  });
});

describe('a tool call round trip', () => {
  const tools: FunctionTool[] = [
    {
      type: 'function',
      function: {
        name: 'search_customers',
        description: 'Search customers.',
        parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
      },
    },
  ];

  it('assembles the streamed call, runs it, sends its result back and streams the final answer', async () => {
    const openai = FAMILIES[0]!;
    const bodies: {
      messages: { role: string; content: unknown; tool_call_id?: string; tool_calls?: unknown[] }[];
      tools?: unknown[];
    }[] = [];
    const head = { id: 'chatcmpl-tool', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o' };
    const toolPiece = (piece: object, finish_reason: string | null = null) => ({
      ...head,
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...piece }] }, finish_reason }],
    });
    fetchMock
      .get(openai.origin)
      .intercept({ path: openai.path, method: 'POST' })
      .reply(
        200,
        (request) => {
          bodies.push(JSON.parse(request.body as string));
          return sse([
            { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] },
            toolPiece({ id: 'call_1', type: 'function', function: { name: 'search_customers', arguments: '' } }),
            toolPiece({ function: { arguments: '{"query":' } }),
            toolPiece({ function: { arguments: ' "dana"}' } }),
            { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
            { ...head, choices: [], usage: { prompt_tokens: 30, completion_tokens: 10, total_tokens: 40 } },
            '[DONE]',
          ]);
        },
        SSE_HEADERS,
      );
    fetchMock
      .get(openai.origin)
      .intercept({ path: openai.path, method: 'POST' })
      .reply(
        200,
        (request) => {
          bodies.push(JSON.parse(request.body as string));
          return textStream('gpt-4o', ['Dana ', 'is active.'], {
            prompt_tokens: 50,
            completion_tokens: 5,
            total_tokens: 55,
          });
        },
        SSE_HEADERS,
      );

    const calls: unknown[] = [];
    const progress: TurnProgress = { text: '', usage: noUsage(), model: '', toolMessages: [] };
    await generate(
      providerFor(providerConfig(withKey('OPENAI_API_KEY'), 'openai_gpt4')),
      {
        messages: question,
        tools,
        signal: new AbortController().signal,
        onDelta: () => {},
        callTool: async (call) => {
          calls.push(call);
          return { result: [{ name: 'Dana Whitfield', status: 'active' }] };
        },
      },
      progress,
    );

    expect(calls).toEqual([{ id: 'call_1', name: 'search_customers', arguments: '{"query": "dana"}' }]);
    expect(bodies[0]!.tools).toEqual(tools);
    // The second request carries the assistant's call and the tool's result under its id.
    expect(bodies[1]!.messages.slice(-2)).toMatchObject([
      {
        role: 'assistant',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'search_customers', arguments: '{"query": "dana"}' } },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'call_1',
        content: JSON.stringify({ result: [{ name: 'Dana Whitfield', status: 'active' }] }),
      },
    ]);
    expect(progress.text).toBe('Dana is active.');
    expect(progress.usage).toEqual({ prompt_tokens: 80, completion_tokens: 15, total_tokens: 95 });
    expect(progress.toolMessages).toMatchObject([
      { role: 'tool', tool: { name: 'search_customers', arguments: '{"query": "dana"}' } },
    ]);
  });
});

describe('tool calls are bounded', () => {
  it(
    `runs at most ${MAX_TOOL_CALLS_PER_ROUND} calls a round and ${MAX_TOOL_ROUNDS} rounds, then ends the turn even ` +
      `if the model keeps calling`,
    async () => {
      const offered: { tools: number }[] = [];
      // A model that asks for ten calls every time, with or without tools (stops after 20 requests
      // so a missing bound fails the test instead of hanging it).
      const greedy: Provider = {
        model: 'greedy',
        async complete({ tools }) {
          offered.push({ tools: tools.length });
          const toolCalls =
            offered.length > 20
              ? []
              : Array.from({ length: 10 }, (_, i) => ({
                  id: `call_${offered.length}_${i}`,
                  name: 'search_customers',
                  arguments: '{}',
                }));
          return {
            text: '',
            toolCalls,
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
            model: 'greedy',
          };
        },
      };
      const ran: string[] = [];
      const progress: TurnProgress = { text: '', usage: noUsage(), model: '', toolMessages: [] };
      const tools: FunctionTool[] = [
        {
          type: 'function',
          function: {
            name: 'search_customers',
            description: 'Search.',
            parameters: { type: 'object', properties: {} },
          },
        },
      ];
      await generate(
        greedy,
        {
          messages: question,
          tools,
          signal: new AbortController().signal,
          onDelta: () => {},
          callTool: async (call) => {
            ran.push(call.id);
            return { result: [] };
          },
        },
        progress,
      );
      expect(offered).toEqual([...Array.from({ length: MAX_TOOL_ROUNDS }, () => ({ tools: 1 })), { tools: 0 }]);
      expect(ran).toHaveLength(MAX_TOOL_ROUNDS * MAX_TOOL_CALLS_PER_ROUND);
      expect(ran.slice(0, MAX_TOOL_CALLS_PER_ROUND)).toEqual(
        Array.from({ length: MAX_TOOL_CALLS_PER_ROUND }, (_, i) => `call_1_${i}`),
      );
      expect(progress.toolMessages).toHaveLength(MAX_TOOL_ROUNDS * MAX_TOOL_CALLS_PER_ROUND);
      expect(progress.usage.total_tokens).toBe(2 * (MAX_TOOL_ROUNDS + 1));
    },
  );
});

describe('a tool result is capped', () => {
  const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;
  const tools: FunctionTool[] = [
    {
      type: 'function',
      function: { name: 'search_customers', description: 'Search.', parameters: { type: 'object', properties: {} } },
    },
  ];

  /** One turn of a model that calls search_customers once; answers what it was sent back, and what the turn kept. */
  async function turnWith(result: unknown) {
    const seen: ChatMessage[][] = [];
    const model: Provider = {
      model: 'recorder',
      async complete({ messages }) {
        seen.push(messages);
        const toolCalls = seen.length === 1 ? [{ id: 'call_big', name: 'search_customers', arguments: '{}' }] : [];
        return {
          text: toolCalls.length ? '' : 'Done.',
          toolCalls,
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          model: 'recorder',
        };
      },
    };
    const progress: TurnProgress = { text: '', usage: noUsage(), model: '', toolMessages: [] };
    await generate(
      model,
      {
        messages: question,
        tools,
        signal: new AbortController().signal,
        onDelta: () => {},
        callTool: async () => result,
      },
      progress,
    );
    return { sent: seen[1]!.at(-1)!, kept: progress.toolMessages[0]!.content };
  }

  it(`cuts a result over ${MAX_TOOL_RESULT_BYTES} bytes of JSON, for the model and in the conversation alike, and says so`, async () => {
    // Two-byte characters, so that the cut is measured in bytes and can fall inside one.
    const result = {
      result: Array.from({ length: 60 }, (_, n) => ({ id: `c${n}`, name: 'é'.repeat(200), notes: 'ü'.repeat(150) })),
    };
    const whole = JSON.stringify(result);
    expect(utf8Bytes(whole)).toBeGreaterThan(MAX_TOOL_RESULT_BYTES);
    const { sent, kept } = await turnWith(result);
    expect(sent).toEqual({ role: 'tool', tool_call_id: 'call_big', content: kept });
    expect(utf8Bytes(kept)).toBeLessThanOrEqual(MAX_TOOL_RESULT_BYTES);
    expect(utf8Bytes(kept)).toBeGreaterThan(MAX_TOOL_RESULT_BYTES - 200);
    const [beginning, note] = kept.split('\n… ');
    expect(whole.startsWith(beginning!)).toBe(true);
    expect(beginning).not.toContain('\uFFFD');
    expect(note).toBe(
      `(truncated: the result was ${utf8Bytes(whole)} bytes of JSON, only its beginning is shown; ask for fewer or narrower results)`,
    );
  });

  it('keeps a result within the cap whole, as JSON', async () => {
    const result = { result: [{ id: 'c1', name: 'Dana' }] };
    const { sent, kept } = await turnWith(result);
    expect(kept).toBe(JSON.stringify(result));
    expect(sent.content).toBe(kept);
  });
});

describe('the context budget', () => {
  it('cuts a subject longer than its budget (~4 characters a token) and says so', () => {
    const long = 'word '.repeat(5000);
    const cut = withinBudget(long, CONTEXT_TOKEN_BUDGET);
    expect(estimateTokens(cut)).toBeLessThanOrEqual(CONTEXT_TOKEN_BUDGET);
    expect(cut.endsWith('… (truncated)')).toBe(true);
    expect(withinBudget('short', CONTEXT_TOKEN_BUDGET)).toBe('short');
  });
});
