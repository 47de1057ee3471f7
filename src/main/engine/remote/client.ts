/**
 * A client of one OpenAI-compatible completions server (vLLM, Text
 * Generation Inference, llama.cpp's server, Inkwell's own `inkwell serve`):
 * its models, and generation of k candidates streamed as server-sent events,
 * with stop strings also applied here (so that streamed text never shows one,
 * whatever the server does with `stop`), cancellation, log-probabilities
 * where the server returns them, and failures that name the engine and keep
 * what had streamed (RemoteEngineError.partial).
 *
 * The API key is a parameter: the app keeps it in the OS keychain. It is sent
 * only as `Authorization: Bearer`, never logged, and cut out of any server
 * message quoted in an error.
 */
import type { FinishReason, GenerationParams } from '../../../shared/api';
import { CompletionResponse, ModelList, type CompletionChoice } from '../../../shared/openai/completions';
import { LOGPROB_FLOOR, tokensFromCompletionLogprobs, tokensFromContentLogprobs, type TokenLogprob } from '../../../shared/openai/logprobs';
import { SSE_DONE, SseEventTooLargeError, SseParser } from '../../../shared/openai/sse';
import { RemoteTimeouts, type RemoteServerKind } from '../../../shared/remote-engines';
import { randomSeed } from '../generate/rng';
import { StopStringFilter } from '../generate/stop-strings';
import { EngineError } from '../types';
import { RemoteEngineError, messageOfErrorBody, redactKey } from './errors';
import { openRemoteRequest, type RemoteHttpRequest, type RemoteHttpResponse } from './http';
import { candidateStrategy, detectFromInfo, detectServerKind, returnsLogprobs, samplingFields, type ServerKind } from './server-kinds';

/** How to reach one server. */
export interface RemoteClientOptions {
  /** The engine's name in Settings; every message starts with it. */
  name: string;
  /** The API's base URL; a bare origin means `<origin>/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; never logged. */
  apiKey?: string | undefined;
  /** 'auto' (default) detects the server from `GET /v1/models`. */
  kind?: RemoteServerKind;
  timeouts?: Partial<RemoteTimeouts>;
  /** Test seam: opens sockets instead of node's agent. */
  createConnection?: RemoteHttpRequest['createConnection'];
}

/** A model the server offers. */
export interface RemoteModel {
  /** The server's id, as `model` in requests. */
  id: string;
  ownedBy: string;
  /** Context window in tokens, where the server says (vLLM's max_model_len, llama.cpp's n_ctx_train). */
  contextLength?: number;
}

/** What a generation knows once the server has accepted it. */
export interface RemoteStartInfo {
  seed: number;
  numSequences: number;
  serverKind: ServerKind;
}

/** One generation on the server. */
export interface RemoteCompletionRequest {
  /** The server's model id. */
  model: string;
  prompt: string;
  /** Sent before the prompt (the server cuts nothing; a prompt that does not fit is its error). */
  memory?: string;
  params: GenerationParams;
  /** Log-probabilities of each token with this many alternatives (0–20); absent: none. */
  logprobs?: number;
  /**
   * Asks for each token's log-probability (with one alternative) only of servers known to stream
   * them (vLLM, llama.cpp's server, OpenAI; see returnsLogprobs). Others (TGI) may refuse the field.
   * Ignored when `logprobs` is set.
   */
  logprobsIfSupported?: boolean;
  /** Aborting ends every candidate ('cancelled', text kept) and drops the connection, which stops vLLM's work. */
  signal?: AbortSignal;
  onStart?(info: RemoteStartInfo): void;
  /** Streamed text of one candidate, with the tokens it releases when logprobs were asked. */
  onDelta?(sequence: number, text: string, tokens?: TokenLogprob[]): void;
}

/** One token of a scored text, as the server split and scored it. */
export interface RemoteScoredToken {
  text: string;
  /** Natural log of its probability under the server's model. */
  logprob: number;
}

/** One candidate as the server finished it. */
export interface RemoteCandidate {
  text: string;
  finishReason: FinishReason;
  /** Generated tokens, where the server's usage or logprobs tell. */
  tokenCount: number | null;
  /** Per token, when logprobs were asked and the server returned them. */
  logprobs?: TokenLogprob[];
}

/** A finished (or cancelled) generation. */
export interface RemoteCompletionResult {
  model: string;
  serverKind: ServerKind;
  seed: number;
  /** From the server's usage, when it reports one. */
  promptTokens: number | null;
  sequences: RemoteCandidate[];
  timings: {
    /** From the call to the first streamed text. */
    firstTokenMs: number | null;
    totalMs: number;
    /** Generated tokens (as far as known) per second after the first one arrived. */
    tokensPerSecond: number;
  };
}

/** The partial result a failed generation carries. */
export type RemoteEngineFailure = RemoteEngineError<RemoteCompletionResult>;

const MAX_JSON_CHARS = 16 * 1024 * 1024;
const MAX_EVENT_CHARS = 4 * 1024 * 1024;
const MAX_ERROR_BODY_CHARS = 64 * 1024;

/** A client of one OpenAI-compatible server. */
export class RemoteCompletionsClient {
  readonly name: string;
  readonly #base: URL;
  readonly #apiKey: string | undefined;
  readonly #configuredKind: RemoteServerKind;
  readonly #timeouts: RemoteTimeouts;
  readonly #createConnection: RemoteHttpRequest['createConnection'];
  #kind: Promise<ServerKind> | null = null;

  constructor(options: RemoteClientOptions) {
    this.name = options.name;
    this.#base = apiBase(options.baseUrl);
    this.#apiKey = options.apiKey === '' ? undefined : options.apiKey;
    this.#configuredKind = options.kind ?? 'auto';
    this.#timeouts = RemoteTimeouts.parse(options.timeouts ?? {});
    this.#createConnection = options.createConnection;
    if (this.#configuredKind !== 'auto') this.#kind = Promise.resolve(this.#configuredKind);
  }

  /** Where requests go (`…/v1`), for display. */
  get baseUrl(): string {
    return this.#base.href.replace(/\/$/, '');
  }

  /** The models the server offers (and, for kind 'auto', which server it is). */
  async listModels(signal?: AbortSignal): Promise<RemoteModel[]> {
    return (await this.#fetchModels(signal)).models;
  }

  /** Which server this is: as configured, or detected once from its model list. */
  serverKind(signal?: AbortSignal): Promise<ServerKind> {
    if (!this.#kind) {
      const detecting = this.#fetchModels(signal).then((listing) => listing.kind);
      this.#kind = detecting;
      detecting.catch(() => {
        if (this.#kind === detecting) this.#kind = null;
      });
    }
    return this.#kind;
  }

  /**
   * Generates `params.numReturnSequences` candidates. Resolves with the
   * candidates when the server is done, or with what had streamed when
   * `signal` aborts; rejects with a RemoteEngineError (partial attached) or,
   * for parameters the server cannot honour, an EngineError('bad_input').
   */
  async complete(request: RemoteCompletionRequest): Promise<RemoteCompletionResult> {
    const started = performance.now();
    const { params } = request;
    let kind: ServerKind;
    try {
      kind = await this.serverKind(request.signal);
    } catch (error) {
      // Cancelled before the server was even asked: nothing streamed, as an aborted local generation.
      if (request.signal?.aborted && error instanceof RemoteEngineError && error.failure === 'cancelled') {
        const none = Array.from({ length: params.numReturnSequences }, () => new CandidateStream(0, [], false, undefined));
        return this.#result(request.model, this.#configuredKind === 'auto' ? 'generic' : this.#configuredKind, params.seed ?? 0, none, { started, firstTokenAt: null, promptTokens: null, completionTokens: 0 });
      }
      throw error;
    }
    const sampling = samplingFields(kind, params);
    const logprobs = request.logprobs ?? (request.logprobsIfSupported === true && returnsLogprobs(kind) ? 1 : undefined);
    if (logprobs !== undefined && (logprobs < 0 || logprobs > 20 || !Number.isInteger(logprobs))) {
      throw new EngineError('bad_input', `logprobs must be an integer from 0 to 20, not ${logprobs}`);
    }
    const seed = params.seed ?? randomSeed();
    const n = params.numReturnSequences;
    const candidates = Array.from({ length: n }, (_, i) => new CandidateStream(i, params.stop, logprobs !== undefined, request.onDelta));
    const run: RunState = { started, firstTokenAt: null, promptTokens: null, completionTokens: 0 };
    const onText = (): void => {
      run.firstTokenAt ??= performance.now();
    };
    for (const c of candidates) c.onText = onText;

    const strategy = candidateStrategy(kind);
    const batches = strategy === 'n' ? [{ first: 0, count: n, seed }] : candidates.map((_, i) => ({ first: i, count: 1, seed: (seed + i) >>> 0 }));
    const controller = new AbortController();
    const abortAll = (): void => controller.abort();
    request.signal?.addEventListener('abort', abortAll, { once: true });
    if (request.signal?.aborted) controller.abort();
    let announced = false;
    const announce = (): void => {
      if (announced) return;
      announced = true;
      request.onStart?.({ seed, numSequences: n, serverKind: kind });
    };
    const result = (): RemoteCompletionResult => this.#result(request.model, kind, seed, candidates, run);

    try {
      await Promise.all(
        batches.map(async (batch) => {
          const body = {
            model: request.model,
            prompt: (request.memory ?? '') + request.prompt,
            max_tokens: params.maxNewTokens,
            ...sampling,
            seed: batch.seed,
            ...(batch.count > 1 ? { n: batch.count } : {}),
            ...(params.stop.length > 0 ? { stop: params.stop } : {}),
            ...(logprobs !== undefined ? { logprobs } : {}),
            stream: true,
            // TGI refuses fields it does not know in some versions; the others report usage with it.
            ...(kind === 'tgi' ? {} : { stream_options: { include_usage: true } }),
          };
          try {
            await this.#streamBatch(body, candidates.slice(batch.first, batch.first + batch.count), run, controller.signal, announce);
          } catch (error) {
            // One failed request ends the others: the caller gets one error with everything streamed.
            controller.abort();
            throw error;
          }
        }),
      );
    } catch (error) {
      if (request.signal?.aborted && error instanceof RemoteEngineError && error.failure === 'cancelled') return result();
      throw this.#contextual(error, result());
    } finally {
      request.signal?.removeEventListener('abort', abortAll);
    }
    return result();
  }

  /**
   * The server's log-probability of each token of `continuation` after `prompt` (natural log, the
   * raw distribution), asked the way vLLM and Inkwell's /v1 score text: `echo` with `logprobs` and
   * max_tokens 0, which returns the sent text's own tokens and generates nothing. A server that
   * answers without prompt log-probabilities (llama.cpp's server ignores `echo`) gets a
   * RemoteEngineError 'no_logprobs' that says so.
   *
   * The continuation's tokens are the ones that end after the prompt's last character, in the
   * server's tokenization of the whole text: a token that spans the boundary counts as the
   * continuation's.
   */
  async scoreContinuation(model: string, prompt: string, continuation: string, signal?: AbortSignal): Promise<RemoteScoredToken[]> {
    try {
      const text = prompt + continuation;
      const body = { model, prompt: text, max_tokens: 0, echo: true, logprobs: 1, temperature: 0, stream: false };
      const response = await this.#open('POST', this.#url('completions'), JSON.stringify(body), signal);
      if (response.status !== 200) {
        const error = await this.#statusError(response, 'completions', model);
        if (error.failure !== 'rejected') throw error;
        throw new RemoteEngineError('no_logprobs', `the server refused to score text (echo with logprobs and max_tokens 0): ${error.message}`, error.status !== undefined ? { status: error.status } : {});
      }
      const raw = await response.readAll(MAX_JSON_CHARS);
      const json = parseJson(raw, 'the response');
      if (json && typeof json === 'object' && 'error' in json) throw new RemoteEngineError('server_error', `the server reported an error: ${redactKey(messageOfErrorBody(raw), this.#apiKey)}`);
      const parsed = CompletionResponse.safeParse(json);
      if (!parsed.success) throw new RemoteEngineError('malformed', `the server sent something that is not a completion (${describeIssue(parsed.error)}): ${messageOfErrorBody(raw)}`);
      const choice = parsed.data.choices[0];
      const tokens = choice ? (tokensOf(choice.logprobs) ?? []) : [];
      // An echoed prompt starts with a token nothing predicts (logprob null) and spells the text sent;
      // generated tokens always carry a number, so a server that ignored echo is told apart.
      const echoed = tokens.length > 0 && (tokens[0]?.logprob === null || tokens.map((t) => t.token).join('') === text);
      if (!echoed) throw new RemoteEngineError('no_logprobs', 'the server returned no prompt log-probabilities (echo with logprobs and max_tokens 0), so it cannot score text');
      return continuationTokens(tokens, prompt.length);
    } catch (error) {
      throw this.#contextual(error, undefined);
    }
  }

  async #fetchModels(signal: AbortSignal | undefined): Promise<{ models: RemoteModel[]; kind: ServerKind }> {
    try {
      const response = await this.#open('GET', this.#url('models'), undefined, signal);
      if (response.status !== 200) throw await this.#statusError(response, 'models');
      const text = await response.readAll(MAX_JSON_CHARS);
      const json = parseJson(text, 'the model list');
      const list = ModelList.safeParse(json);
      if (!list.success) throw new RemoteEngineError('malformed', `GET ${this.#url('models').pathname} did not answer with a model list (${describeIssue(list.error)}): ${messageOfErrorBody(text)}`);
      const kind = this.#configuredKind === 'auto' ? (detectServerKind(json, headerText(response.headers.server)) ?? (await this.#detectFromInfo(signal))) : this.#configuredKind;
      return {
        kind,
        models: list.data.data.map((card) => {
          const contextLength = card.max_model_len ?? card.meta?.n_ctx_train ?? undefined;
          return { id: card.id, ownedBy: card.owned_by, ...(typeof contextLength === 'number' ? { contextLength } : {}) };
        }),
      };
    } catch (error) {
      throw this.#contextual(error, undefined);
    }
  }

  /** TGI does not say who it is in /v1/models; its /info does. Anything else there means "some other server". */
  async #detectFromInfo(signal: AbortSignal | undefined): Promise<ServerKind> {
    try {
      const response = await this.#open('GET', new URL('/info', this.#base), undefined, signal);
      if (response.status !== 200) {
        response.close();
        return 'generic';
      }
      return detectFromInfo(JSON.parse(await response.readAll(MAX_ERROR_BODY_CHARS))) ?? 'generic';
    } catch (error) {
      if (error instanceof RemoteEngineError && error.failure === 'cancelled') throw error;
      return 'generic';
    }
  }

  async #streamBatch(body: Record<string, unknown>, candidates: CandidateStream[], run: RunState, signal: AbortSignal, announce: () => void): Promise<void> {
    const response = await this.#open('POST', this.#url('completions'), JSON.stringify(body), signal);
    if (response.status !== 200) throw await this.#statusError(response, 'completions', String(body.model));
    announce();
    const type = headerText(response.headers['content-type']) ?? '';
    if (/^application\/json/i.test(type)) {
      // A server that does not stream answers the whole response at once.
      const text = await response.readAll(MAX_JSON_CHARS);
      this.#takeResponse(parseJson(text, 'the response'), candidates, run, text);
      for (const c of candidates) c.finishIfOpen('stop');
      return;
    }
    if (!/^text\/event-stream/i.test(type)) {
      const text = await response.readAll(MAX_ERROR_BODY_CHARS).catch(() => '');
      throw new RemoteEngineError('malformed', `the server answered with ${type || 'no content type'} instead of an event stream: ${messageOfErrorBody(text)}`);
    }
    const parser = new SseParser(MAX_EVENT_CHARS);
    let done = false;
    try {
      for await (const piece of response.text()) {
        for (const event of parser.push(piece)) {
          if (event.data === SSE_DONE) {
            done = true;
            continue;
          }
          if (event.event === 'error') throw new RemoteEngineError('server_error', `the server reported an error mid-stream: ${redactKey(messageOfErrorBody(event.data), this.#apiKey)}`);
          this.#takeResponse(parseJson(event.data, 'an event of the stream'), candidates, run, event.data);
        }
        if (done || candidates.every((c) => c.stoppedHere)) break;
      }
    } catch (error) {
      if (error instanceof SseEventTooLargeError) throw new RemoteEngineError('malformed', error.message);
      throw error;
    } finally {
      response.close();
    }
    if (candidates.every((c) => c.finished)) return;
    if (done) {
      // [DONE] without a finish reason: the server ended them without saying why.
      for (const c of candidates) c.finishIfOpen('stop');
      return;
    }
    throw new RemoteEngineError('disconnected', 'the stream ended before the server said it was done');
  }

  /** Applies one response or chunk to the candidates it names. */
  #takeResponse(json: unknown, candidates: CandidateStream[], run: RunState, raw: string): void {
    if (json && typeof json === 'object' && 'error' in json) {
      throw new RemoteEngineError('server_error', `the server reported an error: ${redactKey(messageOfErrorBody(raw), this.#apiKey)}`);
    }
    const parsed = CompletionResponse.safeParse(json);
    if (!parsed.success) throw new RemoteEngineError('malformed', `the server sent something that is not a completion (${describeIssue(parsed.error)}): ${messageOfErrorBody(raw)}`);
    const single = candidates.length === 1;
    for (const choice of parsed.data.choices) {
      const candidate = single ? candidates[0] : candidates[choice.index];
      if (!candidate) throw new RemoteEngineError('malformed', `the server sent choice ${choice.index}, but ${candidates.length} were asked for`);
      candidate.take(choice);
    }
    const usage = parsed.data.usage;
    if (usage) {
      run.promptTokens ??= usage.prompt_tokens;
      if (single) candidates[0]?.countTokens(usage.completion_tokens);
      run.completionTokens += usage.completion_tokens;
    }
  }

  #result(model: string, kind: ServerKind, seed: number, candidates: CandidateStream[], run: RunState): RemoteCompletionResult {
    const totalMs = performance.now() - run.started;
    const sequences = candidates.map((c) => c.result());
    const tokens = run.completionTokens > 0 ? run.completionTokens : sequences.reduce((sum, s) => sum + (s.tokenCount ?? 0), 0);
    const decodeMs = run.firstTokenAt === null ? 0 : performance.now() - run.firstTokenAt;
    return {
      model,
      serverKind: kind,
      seed,
      promptTokens: run.promptTokens,
      sequences,
      timings: {
        firstTokenMs: run.firstTokenAt === null ? null : run.firstTokenAt - run.started,
        totalMs,
        tokensPerSecond: decodeMs > 0 ? (tokens * 1000) / decodeMs : 0,
      },
    };
  }

  #url(endpoint: 'models' | 'completions'): URL {
    const url = new URL(this.#base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${endpoint}`;
    return url;
  }

  #open(method: 'GET' | 'POST', url: URL, body: string | undefined, signal: AbortSignal | undefined): Promise<RemoteHttpResponse> {
    const headers: Record<string, string> = { Accept: body === undefined ? 'application/json' : 'text/event-stream, application/json', 'User-Agent': 'Inkwell' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.#apiKey !== undefined) headers.Authorization = `Bearer ${this.#apiKey}`;
    return openRemoteRequest({
      url,
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      timeouts: this.#timeouts,
      signal,
      ...(this.#createConnection ? { createConnection: this.#createConnection } : {}),
    });
  }

  /** The error for a non-200 answer, in words that say what to change. */
  async #statusError(response: RemoteHttpResponse, endpoint: 'models' | 'completions', model?: string): Promise<RemoteEngineError> {
    const status = response.status;
    const text = await response.readAll(MAX_ERROR_BODY_CHARS).catch(() => '');
    const said = redactKey(messageOfErrorBody(text), this.#apiKey);
    const http = `HTTP ${status}${said ? `: ${said}` : ''}`;
    const retryAfter = Number(headerText(response.headers['retry-after']));
    const retry = Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {};
    if (status >= 300 && status < 400) {
      const location = headerText(response.headers.location);
      return new RemoteEngineError('redirected', `the server redirects (${http})${location ? ` to ${location}` : ''}: use the address it redirects to as the base URL`, { status });
    }
    if (status === 401 || status === 403) {
      const advice = this.#apiKey === undefined ? 'the server wants an API key: add it to this engine in Settings' : 'the server refused the API key: check the key stored for this engine in Settings';
      return new RemoteEngineError('unauthorized', `${advice} (${http})`, { status });
    }
    if (status === 404) {
      const what = endpoint === 'models' ? `no OpenAI-compatible API at ${this.baseUrl} (the base URL usually ends in /v1)` : `the server has no model "${model ?? ''}" or no /completions endpoint`;
      return new RemoteEngineError('not_found', `${what} (${http})`, { status });
    }
    if (status === 429 || status === 503) {
      const when = 'retryAfterSeconds' in retry ? `; it asks to retry after ${retry.retryAfterSeconds} s` : '';
      return new RemoteEngineError('busy', `the server is busy (${http})${when}`, { status, ...retry });
    }
    if (status >= 400 && status < 500) return new RemoteEngineError('rejected', `the server refused the request (${http})`, { status });
    return new RemoteEngineError('server_error', `the server failed (${http})`, { status });
  }

  /** Prefixes the engine's name and origin (never the key or path secrets) and attaches the partial result. */
  #contextual(error: unknown, partial: RemoteCompletionResult | undefined): Error {
    const prefix = `remote engine "${this.name}" (${this.#base.origin}): `;
    if (error instanceof RemoteEngineError) return error.withContext(prefix, partial);
    if (error instanceof EngineError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new RemoteEngineError('server_error', `${prefix}${redactKey(message, this.#apiKey)}`, { cause: error, ...(partial ? { partial } : {}) });
  }
}

/** Token counts and times of one generation, shared by its requests. */
interface RunState {
  started: number;
  firstTokenAt: number | null;
  promptTokens: number | null;
  completionTokens: number;
}

/** One candidate's text as it streams: stop strings, finish reason, tokens. */
class CandidateStream {
  readonly #index: number;
  readonly #stops: StopStringFilter;
  readonly #withLogprobs: boolean;
  readonly #onDelta: RemoteCompletionRequest['onDelta'];
  readonly #tokens: TokenLogprob[] = [];
  #pending: TokenLogprob[] = [];
  #finish: FinishReason | null = null;
  #tokenCount: number | null = null;
  /** Ended by a stop string found here rather than by the server. */
  stoppedHere = false;
  onText: () => void = () => {};

  constructor(index: number, stops: readonly string[], withLogprobs: boolean, onDelta: RemoteCompletionRequest['onDelta']) {
    this.#index = index;
    this.#stops = new StopStringFilter(stops);
    this.#withLogprobs = withLogprobs;
    this.#onDelta = onDelta;
  }

  get finished(): boolean {
    return this.#finish !== null;
  }

  /** One choice piece from the server. */
  take(choice: CompletionChoice): void {
    if (this.stoppedHere) return;
    const tokens = tokensOf(choice.logprobs);
    if (tokens) {
      this.#tokens.push(...tokens);
      this.#pending.push(...tokens);
    }
    if (choice.text.length > 0) {
      const update = this.#stops.push(choice.text);
      this.#emit(update.emit);
      if (update.stopped) {
        this.stoppedHere = true;
        this.#finish = 'stop';
        return;
      }
    }
    const reason = finishReasonOf(choice.finish_reason);
    if (reason !== null) this.finishIfOpen(reason);
  }

  /** Ends the candidate unless it has ended. */
  finishIfOpen(reason: FinishReason): void {
    if (this.#finish !== null) return;
    this.#finish = reason;
    this.#emit(this.#stops.end());
  }

  /** The server's exact count, for a request of this candidate alone. */
  countTokens(count: number): void {
    this.#tokenCount = count;
  }

  result(): RemoteCandidate {
    return {
      // Unfinished (cancelled, failed): what was shown; text held back as a possible stop string never was.
      text: this.#stops.text,
      finishReason: this.#finish ?? 'cancelled',
      tokenCount: this.#tokenCount ?? (this.#withLogprobs && this.#tokens.length > 0 ? this.#tokens.length : null),
      ...(this.#withLogprobs && this.#tokens.length > 0 ? { logprobs: this.#tokens.slice() } : {}),
    };
  }

  #emit(text: string): void {
    if (text.length === 0) return;
    this.onText();
    const tokens = this.#withLogprobs ? this.#pending : undefined;
    if (this.#withLogprobs) this.#pending = [];
    this.#onDelta?.(this.#index, text, tokens);
  }
}

/** The tokens that end after the first `promptChars` UTF-16 units of the text they spell, with their log-probabilities. */
export function continuationTokens(tokens: readonly TokenLogprob[], promptChars: number): RemoteScoredToken[] {
  const out: RemoteScoredToken[] = [];
  let end = 0;
  for (const token of tokens) {
    end += token.token.length;
    if (end > promptChars) out.push({ text: token.token, logprob: token.logprob ?? LOGPROB_FLOOR });
  }
  return out;
}

/** The tokens of a choice's logprobs, in whichever shape the server sent them. */
function tokensOf(logprobs: CompletionChoice['logprobs']): TokenLogprob[] | null {
  if (!logprobs) return null;
  return 'content' in logprobs ? tokensFromContentLogprobs(logprobs) : tokensFromCompletionLogprobs(logprobs);
}

/** A server's finish reason in Inkwell's terms; null while the choice runs. */
export function finishReasonOf(reason: string | null | undefined): FinishReason | null {
  if (reason === null || reason === undefined || reason === '') return null;
  if (reason === 'length' || reason === 'max_tokens') return 'length';
  if (reason === 'abort' || reason === 'cancelled') return 'cancelled';
  // "stop", TGI's "eos_token" / "stop_sequence", "content_filter": the text ended.
  return 'stop';
}

/** The `/v1` base of a configured URL: a bare origin gets `/v1`, anything else is used as given. */
export function apiBase(baseUrl: string): URL {
  const url = new URL(baseUrl);
  if (url.pathname === '' || url.pathname === '/') url.pathname = '/v1';
  url.search = '';
  url.hash = '';
  return url;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RemoteEngineError('malformed', `${what} is not JSON: ${messageOfErrorBody(text) || '(empty)'}`);
  }
}

function describeIssue(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
