// Model providers. Every model family is reached through the one `openai` client and an
// OpenAI-compatible endpoint (OpenAI, Anthropic's and Google's compatibility layers); a family
// without a key is answered by the built-in local provider, so the whole flow runs offline.
import type OpenAI from 'openai';
import type { AI_MODELS } from '../../db/enums';
import type { Bindings } from '../../env';

export type AiModel = (typeof AI_MODELS)[number];
export type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };
export type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam;
export type FunctionTool = OpenAI.Chat.ChatCompletionFunctionTool;
export type ToolCall = { id: string; name: string; arguments: string };

/** One model call: what was said, the tools it wants run, what it cost. */
export type Completion = { text: string; toolCalls: ToolCall[]; usage: Usage; model: string };

export type CompletionRequest = {
  messages: ChatMessage[];
  tools: FunctionTool[];
  signal: AbortSignal;
  onDelta: (text: string) => void;
};

export type Provider = { model: string; complete(request: CompletionRequest): Promise<Completion> };

/** Why a turn ended without an answer; the code a socket's `error` carries. */
export const PROVIDER_FAILURES = {
  provider_unauthorized: 'The model provider refused our credentials.',
  provider_rate_limited: 'The model provider is rate limiting us; try again shortly.',
  provider_unavailable: 'The model provider failed to answer.',
  provider_timeout: 'The model provider took too long to answer.',
  provider_stream_broken: 'The model provider broke off its answer.',
} as const;
export type ProviderFailure = keyof typeof PROVIDER_FAILURES;

export class ProviderError extends Error {
  constructor(
    readonly code: ProviderFailure,
    detail: string = PROVIDER_FAILURES[code],
  ) {
    super(detail);
    this.name = 'ProviderError';
  }
}

/** What to call for a model family, read from configuration. */
export type ProviderConfig =
  | { kind: 'openai'; apiKey: string; baseURL?: string; model: string; timeoutMs: number; maxCompletionTokens: number }
  | { kind: 'local'; deltaMs: number };

export function providerConfig(env: Bindings, family: AiModel): ProviderConfig {
  const [apiKey, baseURL, model]: (string | undefined)[] = {
    openai_gpt4: [env.OPENAI_API_KEY, env.OPENAI_BASE_URL, env.OPENAI_MODEL],
    claude_sonnet: [env.ANTHROPIC_API_KEY, env.ANTHROPIC_BASE_URL, env.ANTHROPIC_MODEL],
    gemini: [env.GEMINI_API_KEY, env.GEMINI_BASE_URL, env.GEMINI_MODEL],
  }[family];
  if (!apiKey) return { kind: 'local', deltaMs: Number(env.AI_LOCAL_DELTA_MS) || 0 };
  return {
    kind: 'openai',
    apiKey,
    baseURL: baseURL || undefined,
    model: model ?? '',
    timeoutMs: Number(env.AI_TIMEOUT_MS) || 60_000,
    // Every request carries a cap: what one round may cost, and what one answer adds to the row.
    maxCompletionTokens: Number(env.AI_MAX_COMPLETION_TOKENS) || 2048,
  };
}

export const providerFor = (config: ProviderConfig): Provider =>
  config.kind === 'local' ? localProvider(config.deltaMs) : openAiCompatible(config);

// ── OpenAI-compatible endpoints, through the SDK ────────────────────────────────────────────

/** The SDK, evaluated on the first model call: most cold isolates never make one (`npm run size`). */
const loadOpenAi = () => import('openai').then((sdk) => sdk.default);

function openAiCompatible(config: Extract<ProviderConfig, { kind: 'openai' }>): Provider {
  let client: OpenAI | undefined;
  return {
    model: config.model,
    async complete({ messages, tools, signal, onDelta }) {
      const OpenAI = await loadOpenAi();
      // No retries: a retry after a partial stream would repeat what the socket already showed, and
      // a 429 is better reported at once than after a back-off the user cannot see or cancel.
      client ??= new OpenAI({
        apiKey: config.apiKey,
        baseURL: config.baseURL,
        maxRetries: 0,
        timeout: config.timeoutMs,
      });
      // The SDK's timeout stops at the response headers; this one covers the whole stream.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(), config.timeoutMs);
      const both = AbortSignal.any([signal, timeout.signal]);
      let text = '';
      let usage: Usage | undefined;
      let finished = false;
      const calls = new Map<number, ToolCall>();
      try {
        const stream = await client.chat.completions.create(
          {
            model: config.model,
            messages,
            ...(tools.length > 0 ? { tools } : {}),
            max_completion_tokens: config.maxCompletionTokens,
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal: both },
        );
        for await (const chunk of stream) {
          if (chunk.usage)
            usage = {
              prompt_tokens: chunk.usage.prompt_tokens,
              completion_tokens: chunk.usage.completion_tokens,
              total_tokens: chunk.usage.total_tokens,
            };
          const choice = chunk.choices[0];
          if (!choice) continue;
          if (choice.delta?.content) {
            text += choice.delta.content;
            onDelta(choice.delta.content);
          }
          // Tool calls arrive in pieces keyed by index: the id and name first, the arguments in fragments.
          for (const piece of choice.delta?.tool_calls ?? []) {
            const call = calls.get(piece.index) ?? { id: '', name: '', arguments: '' };
            call.id ||= piece.id ?? '';
            call.name ||= piece.function?.name ?? '';
            call.arguments += piece.function?.arguments ?? '';
            calls.set(piece.index, call);
          }
          if (choice.finish_reason) finished = true;
        }
        // The SDK ends a stream quietly when its signal aborts: a cancel or a timeout mid-answer
        // must not read as a stream that broke off.
        both.throwIfAborted();
      } catch (error) {
        throw signal.aborted
          ? error
          : timeout.signal.aborted
            ? new ProviderError('provider_timeout')
            : asProviderError(OpenAI, error);
      } finally {
        clearTimeout(timer);
      }
      // A stream that stops without saying why it finished was cut off.
      if (!finished) throw new ProviderError('provider_stream_broken');
      return {
        text,
        toolCalls: [...calls.values()],
        usage: usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        model: config.model,
      };
    },
  };
}

function asProviderError(OpenAI: Awaited<ReturnType<typeof loadOpenAi>>, error: unknown): ProviderError {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return new ProviderError('provider_timeout');
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    if (error.status === 401 || error.status === 403) return new ProviderError('provider_unauthorized');
    if (error.status === 429) return new ProviderError('provider_rate_limited');
    return new ProviderError('provider_unavailable', `The model provider answered ${error.status}.`);
  }
  if (error instanceof OpenAI.APIConnectionError)
    return new ProviderError('provider_unavailable', 'The model provider could not be reached.');
  // A chunk that is not JSON, or a body that errors mid-way.
  return new ProviderError('provider_stream_broken');
}

// ── The local provider: deterministic, offline ──────────────────────────────────────────────

export const LOCAL_MODEL = 'local/echo-1';
/** A user message `/tool <name> <json arguments>` makes the local model call that tool. */
const TOOL_COMMAND = /^\/tool\s+(\w+)\s*(\{[\s\S]*\})?\s*$/;
/** `/fail <code>`: the local model starts answering, then fails as a provider would (dev and tests). */
const FAIL_COMMAND = /^\/fail\s+(provider_\w+)\s*$/;

/** ~4 characters a token: the estimate every budget here uses. */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4);

const contentOf = (message: ChatMessage | undefined): string =>
  typeof message?.content === 'string' ? message.content : '';

function localProvider(deltaMs: number): Provider {
  return {
    model: LOCAL_MODEL,
    async complete({ messages, tools, signal, onDelta }) {
      const last = messages.at(-1);
      const lastUser = [...messages].reverse().find((m) => m.role === 'user');
      const command = last?.role === 'user' ? TOOL_COMMAND.exec(contentOf(last)) : null;
      const prompt_tokens = estimateTokens(messages.map(contentOf).join('\n'));
      if (command && tools.some((t) => t.function.name === command[1])) {
        const call = { id: `call_local_${messages.length}`, name: command[1]!, arguments: command[2] ?? '{}' };
        const completion_tokens = estimateTokens(call.arguments);
        return {
          text: '',
          toolCalls: [call],
          usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
          model: LOCAL_MODEL,
        };
      }
      const failure = last?.role === 'user' ? FAIL_COMMAND.exec(contentOf(last))?.[1] : undefined;
      const answer =
        failure && failure in PROVIDER_FAILURES
          ? 'This answer stops here:'
          : localAnswer(messages, contentOf(lastUser), last?.role === 'tool' ? contentOf(last) : null);
      let text = '';
      // Word by word, at the configured pace: enough deltas to see streaming, cancel and replay.
      for (const piece of answer.match(/\S+\s*/g) ?? []) {
        if (deltaMs > 0) await sleep(deltaMs, signal);
        if (signal.aborted) throw signal.reason;
        text += piece;
        onDelta(piece);
      }
      if (failure && failure in PROVIDER_FAILURES) throw new ProviderError(failure as ProviderFailure);
      const completion_tokens = estimateTokens(text);
      return {
        text,
        toolCalls: [],
        usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
        model: LOCAL_MODEL,
      };
    },
  };
}

function localAnswer(messages: ChatMessage[], question: string, toolResult: string | null): string {
  if (toolResult !== null) return `The tool answered: ${toolResult.slice(0, 400)}`;
  const system = contentOf(messages.find((m) => m.role === 'system'));
  const lines = system.split('\n');
  const context = lines.find((line) => line.startsWith('Context:')) ?? 'Context: none.';
  const openTasks = lines.find((line) => line.startsWith('Open tasks'));
  // The task lines follow their header: "- [status] title (id …)"; the answer names each by title.
  const titles = lines.filter((line) => line.startsWith('- [')).map((line) => line.slice(2).replace(/ \(id .*$/, ''));
  const tasks = openTasks ? ` ${openTasks} ${titles.join('; ')}${titles.length ? '.' : ''}` : '';
  return `This is the local model (no provider key is configured). You asked: "${question.slice(0, 200)}". ${context}${tasks}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
