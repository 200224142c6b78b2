// CHAT_SESSION: one Durable Object per AI conversation. It holds the conversation's sockets
// (hibernatable), runs its generation, one at a time, for sockets and HTTP alike, and keeps the
// partial answer in memory so a client that reconnects mid-answer gets it, then the rest. The
// generation belongs to the object, not to a client: it runs on when every client has gone.
// The object is the only writer of the conversation's messages, so it keeps them cached.
import { eq } from 'drizzle-orm';
import { ai_conversations, type ConversationMessage } from '../db/tenant';
import type { TenantContext } from '../env';
import { fromPortable, type PortableContext } from '../auth/tenant';
import { D1Sessions, formatBookmarks, type D1Report } from '../db/sessions';
import { uuidv7 } from '../lib/ids';
import { ApiError, ERROR_CODES, notFound } from '../lib/problem';
import { systemPrompt } from '../modules/ai/context';
import { PROVIDER_FAILURES, ProviderError, providerConfig, providerFor, type Usage } from '../modules/ai/providers';
import { asAssistant, offeredTools, runTool } from '../modules/ai/tools';
import { generate, modelHistory, noUsage, type TurnProgress } from '../modules/ai/turn';
import { appendTurn, assertRoomForTurn, maySee, type Conversation } from '../modules/conversations/service';
import { assertQuota } from '../modules/usage/quota';
import { RATE_LIMIT_KEY_HEADER, refuse, sendSafely, SocketAccess, type SocketAttachment } from './socket-access';

export type ChatEvent =
  | { type: 'history'; messages: ConversationMessage[] }
  | { type: 'message'; message: ConversationMessage }
  | { type: 'delta'; message_id: string; text: string }
  /** `bookmark`: Strive-Bookmark after the turn's write, so a client reads the stored turn back. */
  | { type: 'done'; message: ConversationMessage; usage: Usage; bookmark?: string; d1_round_trips?: number }
  | { type: 'error'; code: string; detail: string; message_id?: string };

/** A user message: at most 8,000 characters; a socket message at most 32 KB. */
export const CHAT_LIMITS = { maxContentChars: 8000, maxMessageBytes: 32 * 1024 } as const;

type Attachment = SocketAttachment & { conversationId: string };

/** The close code of every socket of a conversation that was deleted. */
export const CONVERSATION_DELETED_CLOSE_CODE = 4404;

type Listener = (event: ChatEvent) => void;

type Generation = {
  user: ConversationMessage;
  assistantId: string;
  /** The answer so far: what a reconnecting client is sent before the next delta. */
  text: string;
  /** Set once the user message has been echoed: from then on it is part of the history. */
  echoed: boolean;
  abort: AbortController;
  /** HTTP callers waiting on this turn (sockets are reached through the object's socket list). */
  listeners: Set<Listener>;
  /** The turn's D1 work: from a socket's access re-read, or the HTTP request's arrival, to its write. */
  d1: D1Sessions;
  /**
   * A socket turn: its `done` carries its D1 round trips where EXPOSE_D1_ROUND_TRIPS is set, as
   * an HTTP turn's answer carries x-d1-round-trips.
   */
  socket: boolean;
};

/** Refusals answered before a turn starts, as data: an ApiError does not cross the object's boundary. */
export type Refusal = { code: ApiError['code']; detail: string };
const REFUSAL_HEADER = 'x-strive-refusal';
/** The object's D1 work for the request (a D1Report): round trips and bookmarks. */
const D1_HEADER = 'x-strive-d1';

export const GENERATION_IN_PROGRESS =
  'An answer is being generated in this conversation: wait for its `done`, or `cancel` it.';

export class ChatSession extends SocketAccess<Attachment> {
  private conversation: Promise<Conversation> | null = null;
  private generation: Generation | null = null;
  protected readonly shows = 'this conversation';

  /** The conversation, read once per object lifetime (the Worker has checked the caller may see it). */
  private load(ctx: TenantContext, id: string): Promise<Conversation> {
    this.conversation ??= ctx.store
      .select(ai_conversations, eq(ai_conversations.id, id))
      .get()
      .then((row) => {
        if (!row) throw notFound('conversation');
        return row;
      });
    // A failed read is not cached: the next caller tries again.
    this.conversation.catch(() => (this.conversation = null));
    return this.conversation;
  }

  /**
   * Called by the Worker once the conversation is deleted: the answer in progress stops (its
   * write then finds no row and keeps nothing), the copy is dropped and every socket is closed.
   */
  async conversationDeleted(): Promise<void> {
    this.generation?.abort.abort();
    this.conversation = null;
    for (const socket of this.ctx.getWebSockets()) {
      refuse(socket, 'not_found', 'This conversation was deleted.');
      socket.close(CONVERSATION_DELETED_CLOSE_CODE, 'conversation deleted');
    }
  }

  /** The Worker has authenticated the caller and checked they may see the conversation. */
  override async fetch(request: Request): Promise<Response> {
    const context = JSON.parse(request.headers.get('x-strive-context') ?? 'null') as PortableContext | null;
    const conversationId = request.headers.get('x-strive-conversation');
    if (!context || !conversationId) return new Response('expected a request from the Worker', { status: 400 });
    // The object is the only writer of its conversation and decides each turn from what it reads:
    // the primary, always.
    const d1 = D1Sessions.primary(this.env);
    const ctx = fromPortable(this.env, d1, context, this.waitUntil);
    try {
      if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
        const rateLimitKey = request.headers.get(RATE_LIMIT_KEY_HEADER);
        if (!rateLimitKey) return new Response('expected a request from the Worker', { status: 400 });
        return await this.connect(ctx, { context, conversationId, rateLimitKey });
      }
      const { content } = (await request.json()) as { content: string };
      const stream = request.headers.get('accept')?.includes('text/event-stream') ?? false;
      return await (stream
        ? this.postStreaming(ctx, conversationId, content, d1)
        : this.post(ctx, conversationId, content, d1));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return Response.json({ code: error.code, detail: error.detail } satisfies Refusal, {
        status: error.status,
        headers: { [REFUSAL_HEADER]: '1', [D1_HEADER]: JSON.stringify(d1.report()) },
      });
    }
  }

  private async connect(ctx: TenantContext, attachment: Attachment): Promise<Response> {
    const conversation = await this.load(ctx, attachment.conversationId);
    // From the accept to the return nothing awaits: the history, the partial answer and the deltas
    // broadcast after it reach this socket in order, none twice, none missed.
    const { client, server } = await this.accept(attachment);
    const generation = this.generation;
    const pending = generation?.echoed ? [generation.user] : [];
    server.send(
      JSON.stringify({
        type: 'history',
        messages: [...conversation.conversation_data, ...pending],
      } satisfies ChatEvent),
    );
    if (generation?.text)
      server.send(
        JSON.stringify({
          type: 'delta',
          message_id: generation.assistantId,
          text: generation.text,
        } satisfies ChatEvent),
      );
    return new Response(null, { status: 101, webSocket: client });
  }

  /** POST …/messages as JSON: the answer once the turn ends. */
  private async post(ctx: TenantContext, conversationId: string, content: string, d1: D1Sessions): Promise<Response> {
    let finish!: (event: Extract<ChatEvent, { type: 'done' }>) => void;
    const done = new Promise<Extract<ChatEvent, { type: 'done' }>>((resolve) => (finish = resolve));
    await this.startTurn(ctx, conversationId, content, d1, {
      listener: (event) => event.type === 'done' && finish(event),
    });
    const { message } = await done;
    const headers = { [D1_HEADER]: JSON.stringify(d1.report()) };
    if (message.status === 'failed') {
      const failure = message.error!;
      const refusal: Refusal =
        failure.code in PROVIDER_FAILURES
          ? {
              code: 'provider_error',
              detail: `${failure.detail} (${failure.code}) What was said is kept in the conversation, marked failed.`,
            }
          : { code: failure.code === 'not_found' ? 'not_found' : 'internal', detail: failure.detail };
      return Response.json(refusal, {
        status: ERROR_CODES[refusal.code].status,
        headers: { ...headers, [REFUSAL_HEADER]: '1' },
      });
    }
    // The user's message and the answer are new resources: 201, like every creation.
    return Response.json(message, { status: 201, headers });
  }

  /** POST …/messages as server-sent events: the turn's events as they happen, ending with `done`. */
  private async postStreaming(
    ctx: TenantContext,
    conversationId: string,
    content: string,
    d1: D1Sessions,
  ): Promise<Response> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    await this.startTurn(ctx, conversationId, content, d1, {
      listener: (event) => {
        // A client that went away does not stop the turn: its writes just fail.
        writer.write(encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)).catch(() => undefined);
        if (event.type === 'done') writer.close().catch(() => undefined);
      },
    });
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' },
    });
  }

  /**
   * Starts a turn, or refuses it (another in progress: 409; the conversation full: 409
   * conversation_full; quota spent: 402). Resolves once the
   * user message is echoed; the answer then streams to the sockets and to an HTTP caller's
   * `listener`. `d1` is the sessions `ctx` reads through (a socket's: since its access re-read).
   */
  private async startTurn(
    ctx: TenantContext,
    conversationId: string,
    content: string,
    d1: D1Sessions,
    from: { listener: Listener } | { socket: true },
  ): Promise<void> {
    if (this.generation) throw new ApiError('conflict', GENERATION_IN_PROGRESS);
    const generation: Generation = {
      user: { id: uuidv7(), role: 'user', content, created_at: new Date().toISOString() },
      assistantId: uuidv7(),
      text: '',
      echoed: false,
      abort: new AbortController(),
      listeners: new Set('listener' in from ? [from.listener] : []),
      d1,
      socket: 'socket' in from,
    };
    // Claimed before the first await: a second message meanwhile is refused, not interleaved.
    this.generation = generation;
    let prepared: Awaited<ReturnType<ChatSession['prepare']>>;
    try {
      prepared = await this.prepare(ctx, conversationId);
    } catch (error) {
      this.generation = null;
      throw error;
    }
    generation.echoed = true;
    this.emit(generation, { type: 'message', message: generation.user });
    // Kept by the object, not by any request: the turn runs on when its clients are gone.
    this.ctx.waitUntil(this.run(generation, prepared));
  }

  private async prepare(ctx: TenantContext, conversationId: string) {
    const [conversation, tools] = await Promise.all([
      this.load(ctx, conversationId),
      offeredTools(ctx),
      assertQuota(ctx, 'ai_tokens', 1),
    ]);
    assertRoomForTurn(conversation);
    return { ctx, conversation, tools, system: await systemPrompt(ctx, conversation) };
  }

  private async run(
    generation: Generation,
    { ctx, conversation, tools, system }: Awaited<ReturnType<ChatSession['prepare']>>,
  ) {
    const provider = providerFor(providerConfig(this.env, conversation.ai_model));
    const progress: TurnProgress = { text: '', usage: noUsage(), model: provider.model, toolMessages: [] };
    const assistantCtx = asAssistant(ctx, conversation.id);
    let status: NonNullable<ConversationMessage['status']> = 'complete';
    let error: ConversationMessage['error'];
    try {
      await generate(
        provider,
        {
          messages: [
            { role: 'system', content: system },
            ...modelHistory(conversation.conversation_data),
            { role: 'user', content: generation.user.content },
          ],
          tools: tools.definitions,
          signal: generation.abort.signal,
          onDelta: (text) => {
            generation.text += text;
            this.emit(generation, { type: 'delta', message_id: generation.assistantId, text });
          },
          callTool: (call) => runTool(assistantCtx, this.env, tools, call),
        },
        progress,
      );
    } catch (failure) {
      if (generation.abort.signal.aborted) {
        status = 'cancelled';
      } else {
        status = 'failed';
        if (!(failure instanceof ProviderError)) console.error(`conversation ${conversation.id}: turn failed`, failure);
        error =
          failure instanceof ProviderError
            ? { code: failure.code, detail: failure.message }
            : { code: 'internal', detail: 'The answer failed on our side.' };
      }
    }
    const answer: ConversationMessage = {
      id: generation.assistantId,
      role: 'assistant',
      content: progress.text,
      created_at: new Date().toISOString(),
      model: progress.model,
      usage: progress.usage,
      status,
      ...(error ? { error } : {}),
    };
    const messages = [generation.user, ...progress.toolMessages, answer];
    try {
      await appendTurn(ctx, conversation.id, messages, progress.usage);
      conversation.conversation_data.push(...messages);
    } catch (failure) {
      console.error(`conversation ${conversation.id}: turn not saved`, failure);
      // Nothing of the turn was kept, so it failed, whatever the provider did (the HTTP caller: 500,
      // or 404 when the conversation was deleted meanwhile).
      error =
        failure instanceof ApiError && failure.code === 'not_found'
          ? { code: 'not_found', detail: 'The conversation was deleted: this turn is not kept.' }
          : { code: 'internal', detail: 'The answer could not be saved; this turn is not in the conversation.' };
      Object.assign(answer, { status: 'failed', error });
      this.conversation = null; // re-read what was really stored
    } finally {
      // Whatever happened, the conversation is free again and every client hears that the turn ended.
      this.generation = null;
      if (error)
        this.emit(generation, { type: 'error', code: error.code, detail: error.detail, message_id: answer.id });
      const bookmark = formatBookmarks(generation.d1.bookmarks());
      const roundTrips =
        generation.socket && this.env.EXPOSE_D1_ROUND_TRIPS === 'true' ? { d1_round_trips: generation.d1.count } : {};
      this.emit(generation, {
        type: 'done',
        message: answer,
        usage: progress.usage,
        ...(bookmark ? { bookmark } : {}),
        ...roundTrips,
      });
      // The tokens were spent at the provider, whatever became of our write: each turn its own
      // usage event (its own id), named by the model that answered.
      if (progress.usage.total_tokens > 0)
        ctx.meter.record({
          resource_type: 'ai_tokens',
          quantity: progress.usage.total_tokens,
          resource_name: progress.model,
        });
    }
  }

  private emit(generation: Generation, event: ChatEvent) {
    const text = JSON.stringify(event);
    for (const socket of this.ctx.getWebSockets()) sendSafely(socket, text);
    for (const listener of generation.listeners) listener(event);
  }

  override async webSocketMessage(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      await this.receive(socket, message);
    } catch (error) {
      // Whatever failed, the client hears of it, and the object takes the next message (a turn
      // that failed to start has released the conversation).
      console.error('chat socket: a message failed', error);
      refuse(socket, 'internal', 'The message could not be handled on our side; try again.');
    }
  }

  private async receive(socket: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = socket.deserializeAttachment() as Attachment;
    // Every message counts against the caller's request limit, whatever it is; before any D1 work.
    if (!(await this.withinRateLimit(socket, attachment))) return;
    const size = typeof message === 'string' ? new TextEncoder().encode(message).length : message.byteLength;
    if (size > CHAT_LIMITS.maxMessageBytes)
      return refuse(socket, 'payload_too_large', `Messages are limited to ${CHAT_LIMITS.maxMessageBytes} bytes.`);
    let parsed: { type?: unknown; content?: unknown };
    try {
      parsed = JSON.parse(typeof message === 'string' ? message : new TextDecoder().decode(message));
    } catch {
      return refuse(socket, 'invalid_request', 'Messages are JSON objects with a `type`.');
    }
    if (parsed?.type !== 'user_message' && parsed?.type !== 'cancel')
      return refuse(socket, 'invalid_request', "Unknown message type: send 'user_message' or 'cancel'.");
    const content = typeof parsed.content === 'string' ? parsed.content.trim() : '';
    if (parsed.type === 'user_message' && (content === '' || content.length > CHAT_LIMITS.maxContentChars)) {
      return refuse(socket, 'invalid_request', `\`content\` must be 1–${CHAT_LIMITS.maxContentChars} characters.`);
    }
    const d1 = D1Sessions.primary(this.env);
    const ctx = await this.currentAccess(socket, attachment, d1);
    if (!ctx) return;
    if (!ctx.permissions.has('conversations:write'))
      return refuse(socket, 'forbidden', "Reading only: writing needs the 'conversations:write' permission.");
    if (parsed.type === 'cancel') {
      this.generation?.abort.abort();
      return;
    }
    if (this.generation) return refuse(socket, 'generation_in_progress', GENERATION_IN_PROGRESS);
    try {
      await this.startTurn(ctx, attachment.conversationId, content, d1, { socket: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refuse(socket, error.code, error.detail);
    }
  }

  /** A socket may watch while its actor may see the conversation (a deleted one: nobody may). */
  protected async mayWatch(ctx: TenantContext, { conversationId }: Attachment): Promise<boolean> {
    const conversation = await this.load(ctx, conversationId).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === 'not_found') return null;
      throw error;
    });
    return conversation !== null && maySee(ctx, conversation);
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    // 1005 (no status) and 1006 (abnormal) are reported, never sent: answer a normal close.
    try {
      socket.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed.
    }
  }
}

/** The Worker's side: the answer of the object's fetch, a refusal turned back into an ApiError. */
export async function unwrapChatResponse(response: Response, d1: D1Sessions): Promise<Response> {
  const report = response.headers.get(D1_HEADER);
  if (report) d1.absorb(JSON.parse(report) as D1Report);
  if (response.headers.has(REFUSAL_HEADER)) {
    const refusal = (await response.json()) as Refusal;
    throw new ApiError(refusal.code, refusal.detail);
  }
  return response;
}
