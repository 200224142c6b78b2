// One assistant turn: the model answers, may call tools, sees their results and answers again,
// up to MAX_TOOL_ROUNDS of at most MAX_TOOL_CALLS_PER_ROUND calls. What was said and spent so far is kept in `progress` as it arrives, so
// a turn that is cancelled or fails still has its partial answer and its cost.
import type { ConversationMessage } from '../../db/tenant';
import {
  estimateTokens,
  type ChatMessage,
  type FunctionTool,
  type Provider,
  type ToolCall,
  type Usage,
} from './providers';

export const MAX_TOOL_ROUNDS = 3;
/** Calls a round runs; a model asking for more gets the first ones (the rest are dropped from its message). */
export const MAX_TOOL_CALLS_PER_ROUND = 4;
/** The earlier messages sent along, newest kept, within this many tokens (~4 characters each). */
export const HISTORY_TOKEN_BUDGET = 6000;

/**
 * A tool result's JSON as the model reads it and the conversation keeps it: at most this many
 * UTF-8 bytes, so that one list of long records cannot crowd the prompt or fill the
 * conversation's row (12 results a turn are at most 192 KB).
 */
export const MAX_TOOL_RESULT_BYTES = 16 * 1024;

const encoder = new TextEncoder();

/**
 * The result as JSON, or when longer than MAX_TOOL_RESULT_BYTES its beginning and a note saying
 * so: no longer JSON then, but text the model reads as a cut result it can ask again for less.
 */
export function toolResultContent(result: unknown): string {
  const json = JSON.stringify(result);
  const bytes = encoder.encode(json);
  if (bytes.length <= MAX_TOOL_RESULT_BYTES) return json;
  const note =
    `\n… (truncated: the result was ${bytes.length} bytes of JSON, only its beginning is shown; ask for fewer or ` +
    `narrower results)`;
  // A cut through a multi-byte character decodes as one U+FFFD at the end: dropped.
  const kept = new TextDecoder()
    .decode(bytes.subarray(0, MAX_TOOL_RESULT_BYTES - encoder.encode(note).length))
    .replace(/\uFFFD$/, '');
  return kept + note;
}

export type TurnProgress = { text: string; usage: Usage; model: string; toolMessages: ConversationMessage[] };

export const noUsage = (): Usage => ({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });

function add(total: Usage, more: Usage) {
  total.prompt_tokens += more.prompt_tokens;
  total.completion_tokens += more.completion_tokens;
  total.total_tokens += more.total_tokens;
}

/** The conversation so far as the model reads it: its text messages, the latest that fit the budget. */
export function modelHistory(messages: ConversationMessage[]): ChatMessage[] {
  const kept: ChatMessage[] = [];
  let budget = HISTORY_TOKEN_BUDGET;
  for (const message of [...messages].reverse()) {
    if ((message.role !== 'user' && message.role !== 'assistant') || message.content === '') continue;
    budget -= estimateTokens(message.content);
    if (budget < 0) break;
    kept.unshift({ role: message.role, content: message.content });
  }
  return kept;
}

export async function generate(
  provider: Provider,
  turn: {
    messages: ChatMessage[];
    tools: FunctionTool[];
    signal: AbortSignal;
    onDelta: (text: string) => void;
    callTool: (call: ToolCall) => Promise<unknown>;
  },
  progress: TurnProgress,
): Promise<void> {
  const messages = [...turn.messages];
  for (let round = 0; ; round++) {
    let said = '';
    let calls: ToolCall[];
    const onDelta = (text: string) => {
      said += text;
      progress.text += text;
      turn.onDelta(text);
    };
    try {
      // The last round offers no tools, so the model has to answer in words.
      const tools = round < MAX_TOOL_ROUNDS ? turn.tools : [];
      const completion = await provider.complete({ messages, tools, signal: turn.signal, onDelta });
      add(progress.usage, completion.usage);
      progress.model = completion.model;
      calls = completion.toolCalls.slice(0, MAX_TOOL_CALLS_PER_ROUND);
      // The last round offered no tools: calls it makes anyway are not run, and the turn ends.
      if (calls.length === 0 || round === MAX_TOOL_ROUNDS) return;
      messages.push({
        role: 'assistant',
        content: completion.text || null,
        tool_calls: calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      });
    } catch (error) {
      // A round that broke off after it began answering cost what it said: estimated, since no
      // usage chunk came. One refused before a word (401, 429) cost nothing.
      if (said !== '') {
        const prompt = estimateTokens(messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n'));
        add(progress.usage, {
          prompt_tokens: prompt,
          completion_tokens: estimateTokens(said),
          total_tokens: prompt + estimateTokens(said),
        });
      }
      throw error;
    }
    for (const call of calls) {
      const result = toolResultContent(await turn.callTool(call));
      messages.push({ role: 'tool', tool_call_id: call.id, content: result });
      progress.toolMessages.push({
        role: 'tool',
        content: result,
        created_at: new Date().toISOString(),
        tool: { name: call.name, arguments: call.arguments },
      });
    }
  }
}
