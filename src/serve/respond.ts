// respond.ts — the two ways an answer goes back: one JSON body when the job is done, or SSE chunks as the worker
// hands out text (the guard's urgent message first, before the request even waits for the model). Both report
// the safety verdict, context trimming and the invalid UTF-8 sequences left out of the text (`invalid_utf8`: in the
// body, or on the closing chunk of a stream). Request parsing and prompt building are chat-route.ts / prompt.ts.
import type { Context } from 'hono';
import type { JobHandle, JobSink } from './engine.js';
import type { GuardVerdict } from './guard.js';
import { ApiError, chunkBody, completionBody, sseData, usage, usageChunkBody, type OpenAiFinish } from './protocol.js';
import { errorResponse } from './http-errors.js';

/** One request on its way to an answer: everything either response mode needs. */
export interface Answering {
  id: string;
  /** seconds since the epoch, as OpenAI's `created` */
  created: number;
  model: string;
  verdict: GuardVerdict;
  /** our fields beside OpenAI's, on the body or the first chunk */
  context: { truncated_turns: number; reply_budget_shrunk: boolean };
  promptTokens: number;
  includeUsage: boolean;
  /** hands the job to the engine (throws ApiError 429/503 when it cannot take it) */
  submit(sink: JobSink): JobHandle;
  /** aborts when the client goes away */
  signal: AbortSignal;
  /** logs the request's end */
  done(status: string, tokens: number): void;
}

const finishOf = (f: string): OpenAiFinish => (f === 'length' ? 'length' : 'stop');

function cancelOnAbort(signal: AbortSignal, h: JobHandle): void {
  if (signal.aborted) h.cancel();
  else signal.addEventListener('abort', () => h.cancel(), { once: true });
}

/** The whole answer as one chat.completion body. */
export function completionResponse(c: Context, a: Answering): Promise<Response> {
  let text = '';
  const { verdict } = a;
  return new Promise<Response>((resolve, reject) => {
    try {
      const h = a.submit({
        onDelta: (d) => { text += d; },
        onDone: (r) => {
          a.done(r.finish, r.tokens);
          // a cancelled job's client has gone; nobody reads this
          if (r.finish === 'cancelled') { resolve(new Response(null, { status: 499 })); return; }
          const extra = { safety: { urgent: verdict.urgent, flags: verdict.flags }, ...a.context, invalid_utf8: r.invalidUtf8 ?? 0 };
          resolve(c.json(completionBody(a.id, a.created, a.model, verdict.prefix + text + verdict.suffix, finishOf(r.finish), usage(a.promptTokens, r.tokens), extra)));
        },
        onError: (msg) => { a.done('error', 0); resolve(errorResponse(c, new ApiError(500, msg, 'server_error'))); },
      });
      cancelOnAbort(a.signal, h);
    } catch (e) {
      reject(e);
    }
  });
}

/** The answer as server-sent chat.completion.chunk events, ending with `[DONE]`. */
export function streamResponse(a: Answering): Response {
  const enc = new TextEncoder();
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  let cancel = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(k) { ctrl = k; },
    cancel() { open = false; cancel(); },
  });
  const send = (v: unknown) => { if (open) ctrl.enqueue(enc.encode(sseData(v))); };
  const end = () => { if (open) { open = false; ctrl.close(); } };
  const chunk = (delta: { role?: 'assistant'; content?: string }, finish: OpenAiFinish | null = null) => chunkBody(a.id, a.created, a.model, delta, finish);
  // the urgent message goes out first, before the request even waits for the model
  send({ ...chunk({ role: 'assistant', content: a.verdict.prefix }), ...a.context });
  let h: JobHandle;
  try {
    h = a.submit({
      onDelta: (d) => send(chunk({ content: d })),
      onDone: (r) => {
        a.done(r.finish, r.tokens);
        if (r.finish === 'cancelled') { end(); return; }
        if (a.verdict.suffix) send(chunk({ content: a.verdict.suffix }));
        // held-back bytes that never completed a character were left out of the deltas: the closing chunk says how many
        send({ ...chunk({}, finishOf(r.finish)), invalid_utf8: r.invalidUtf8 ?? 0 });
        if (a.includeUsage) send(usageChunkBody(a.id, a.created, a.model, usage(a.promptTokens, r.tokens)));
        send('[DONE]');
        end();
      },
      onError: (msg) => {
        a.done('error', 0);
        send(new ApiError(500, msg, 'server_error').body());
        send('[DONE]');
        end();
      },
    });
  } catch (e) {
    end();
    throw e;
  }
  cancel = () => h.cancel();
  cancelOnAbort(a.signal, h);
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-request-id': a.id },
  });
}
