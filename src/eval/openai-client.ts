// openai-client.ts — a minimal client for the OpenAI chat-completions protocol (POST {base}/chat/completions, reply
// choices[0].message.content), used for API answerers and the LLM judge. Retries 429 / 5xx / network errors /
// timeouts with capped exponential back-off and full jitter (honouring Retry-After), and spaces request starts by a
// rate limit. Other 4xx fail at once. No streaming, no tools, no SDK.

export interface ChatMessageIn { role: 'system' | 'user' | 'assistant'; content: string }

export interface ApiConfig {
  /** e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1 */
  baseUrl: string;
  model: string;
  apiKey?: string;
  timeoutMs?: number;
  /** retries after the first attempt (default 4) */
  maxRetries?: number;
  /** back-off before retry k is uniform in [0, min(maxBackoffMs, backoffMs·2^k)] (default 500 ms, 20 s) */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** request starts per minute across this client (default: unlimited) */
  requestsPerMinute?: number;
  /** injected for tests; default Math.random */
  random?: () => number;
}

export interface ChatParams {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  seed?: number;
  /** candidates per request (OpenAI/vLLM `n`); every choice comes back in ChatResult.choices */
  n?: number;
}

export class ApiError extends Error {
  constructor(message: string, readonly status: number | null, readonly attempts: number) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ChatResult {
  content: string;
  /** every choice's content, in order (one entry unless `n` > 1 was asked and honoured) */
  choices: string[];
  attempts: number;
  finishReason?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function retryable(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Retry-After as seconds or an HTTP date → ms, or null. */
function retryAfterMs(h: string | null): number | null {
  if (!h) return null;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : null;
}

export class ChatClient {
  private nextStart = 0;
  /** counters for reports: every request attempt, retries among them, and calls that finally failed */
  readonly stats = { requests: 0, retries: 0, failures: 0 };

  constructor(readonly cfg: ApiConfig) {
    if (!/^https?:\/\//.test(cfg.baseUrl)) throw new Error(`[openai-client] baseUrl must start with http:// or https://, got '${cfg.baseUrl}'`);
    if (!cfg.model) throw new Error('[openai-client] a model name is required');
  }

  private async waitTurn(): Promise<void> {
    const rpm = this.cfg.requestsPerMinute;
    if (!rpm || rpm <= 0) return;
    const gap = 60_000 / rpm;
    const now = Date.now();
    const at = Math.max(now, this.nextStart);
    this.nextStart = at + gap; // reserve the slot before awaiting, so concurrent callers queue behind it
    if (at > now) await sleep(at - now);
  }

  async chat(messages: ChatMessageIn[], params: ChatParams = {}): Promise<ChatResult> {
    const c = this.cfg;
    const url = c.baseUrl.replace(/\/+$/, '') + '/chat/completions';
    const body: Record<string, unknown> = { model: c.model, messages };
    if (params.temperature !== undefined) body.temperature = params.temperature;
    if (params.topP !== undefined) body.top_p = params.topP;
    if (params.maxTokens !== undefined) body.max_tokens = params.maxTokens;
    if (params.seed !== undefined) body.seed = params.seed;
    if (params.n !== undefined && params.n !== 1) body.n = params.n;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (c.apiKey) headers.authorization = `Bearer ${c.apiKey}`;
    const maxRetries = c.maxRetries ?? 4;
    const timeoutMs = c.timeoutMs ?? 60_000;
    const random = c.random ?? Math.random;
    let lastMsg = '';
    let lastStatus: number | null = null;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) this.stats.retries++;
      await this.waitTurn();
      this.stats.requests++;
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), timeoutMs);
      let res: Response | null = null, text = '';
      try {
        res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: ctl.signal });
        text = await res.text();
      } catch (e) {
        res = null;
        lastStatus = null;
        lastMsg = ctl.signal.aborted ? `timed out after ${timeoutMs} ms` : `network error: ${(e as Error).message}`;
      } finally {
        clearTimeout(timer);
      }
      let wait: number | null = null;
      if (res) {
        if (res.ok) {
          try {
            return { ...parseCompletion(text, url), attempts: attempt + 1 };
          } catch (e) {
            // a 200 whose body is not a chat completion is a broken server, not a passing hiccup: no retry
            this.stats.failures++;
            throw e;
          }
        }
        lastStatus = res.status;
        lastMsg = `HTTP ${res.status}: ${text.slice(0, 200)}`;
        if (!retryable(res.status)) {
          this.stats.failures++;
          throw new ApiError(`[openai-client] ${url}: ${lastMsg}`, res.status, attempt + 1);
        }
        wait = retryAfterMs(res.headers.get('retry-after'));
      }
      if (attempt === maxRetries) break;
      const cap = Math.min(c.maxBackoffMs ?? 20_000, (c.backoffMs ?? 500) * 2 ** attempt);
      await sleep(Math.max(Math.min(wait ?? 0, 120_000), random() * cap)); // Retry-After honoured up to 2 min
    }
    this.stats.failures++;
    throw new ApiError(`[openai-client] ${url}: gave up after ${maxRetries + 1} attempts; last: ${lastMsg}`, lastStatus, maxRetries + 1);
  }
}

/** The reply body → content. A body that is not a chat completion is an error, not an empty answer. */
export function parseCompletion(text: string, where = 'response'): { content: string; choices: string[]; finishReason?: string } {
  let j: unknown;
  try { j = JSON.parse(text); } catch { throw new ApiError(`[openai-client] ${where}: malformed response (not JSON): ${text.slice(0, 120)}`, null, 1); }
  const choice = (j as { choices?: unknown })?.choices;
  const first = Array.isArray(choice) ? choice[0] as { message?: { content?: unknown }; finish_reason?: unknown } : undefined;
  const content = first?.message?.content;
  if (typeof content !== 'string')
    throw new ApiError(`[openai-client] ${where}: malformed response (no choices[0].message.content string)`, null, 1);
  const all = (choice as { message?: { content?: unknown } }[]).map((c) => c?.message?.content);
  if (all.some((c) => typeof c !== 'string')) throw new ApiError(`[openai-client] ${where}: malformed response (a choice without message.content)`, null, 1);
  const r: { content: string; choices: string[]; finishReason?: string } = { content, choices: all as string[] };
  if (typeof first!.finish_reason === 'string') r.finishReason = first!.finish_reason;
  return r;
}
