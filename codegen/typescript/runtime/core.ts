/**
 * Configuration and the request pipeline behind `ModelStudio`: build the wire body, validate it
 * (before any I/O), send it with `fetch`, retry by the shared policy, decode the answer.
 */

import { Accumulator } from "./accumulate.js";
import { ChatAccumulator } from "./accumulateChat.js";
import { type Problem, type ValidationMode, VALIDATION_MODES, enforce, isObject } from "./checks.js";
import {
  APIConnectionError,
  APIError,
  APIResponseValidationError,
  APITimeoutError,
  APIUserAbortError,
  ModelStudioError,
  ValidationError,
  errorFields,
  errorFromResponseBody,
  errorInSuccessBody,
  makeStatusError,
  redactKey,
} from "./errors.js";
import { DEFAULT_MAX_RETRIES, backoffDelay, decideForFailure, decideForStatus, describeRetry } from "./retry.js";
import { fillRequired } from "./families.js";
import { familyFor } from "./modelTable.js";
import { Stream } from "./stream.js";

export const VERSION = "0.1.0";
export const DEFAULT_TIMEOUT = 300_000;
export const DEFAULT_STREAM_IDLE_TIMEOUT = 120_000;
export const REGIONS = {
  intl: "https://dashscope-intl.aliyuncs.com/api/v1",
  cn: "https://dashscope.aliyuncs.com/api/v1",
} as const;

/** What the client needs of `fetch`: the global one, or any function with its shape. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Where retries and (at "debug") each request and answer are reported; never the API key. */
export interface Logger {
  info(message: string): void;
  debug?(message: string): void;
}

export interface ClientOptions {
  /** The API key. @default the `DASHSCOPE_API_KEY` environment variable */
  apiKey?: string | undefined;
  /**
   * The native API base URL.
   * @default `DASHSCOPE_BASE_URL` (or `DASHSCOPE_HTTP_BASE_URL`), else the region's
   */
  baseURL?: string | undefined;
  /** "intl" or "cn": which public endpoint `baseURL` defaults to. @default "intl" */
  region?: keyof typeof REGIONS | undefined;
  /** Sent as `X-DashScope-WorkSpace`. @default none (the header is not sent) */
  workspace?: string | undefined;
  /** Retries of a failed attempt. @default 2 */
  maxRetries?: number | undefined;
  /** Milliseconds per attempt until the answer (for a stream: its headers) arrived. @default 300000 */
  timeout?: number | undefined;
  /** Milliseconds of silence between stream reads after which a stream fails. @default 120000 */
  streamIdleTimeout?: number | undefined;
  /** "strict" (throw ValidationError before any I/O), "warn" or "off". @default "strict" */
  validation?: ValidationMode | undefined;
  /** Headers sent with every request. @default {} */
  defaultHeaders?: Record<string, string> | undefined;
  /** Replaces the global `fetch`. @default globalThis.fetch */
  fetch?: FetchLike | undefined;
  /**
   * Receives retry lines (`info`) and request/answer lines (`debug`).
   * @default stderr lines when `MODELSTUDIO_LOG` is "info" or "debug", else none
   */
  logger?: Logger | undefined;
  /** How the client waits before a retry (milliseconds); tests record the delays with it. @default a timer */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

export interface RequestOptions {
  /** This call's `timeout` (milliseconds per attempt). @default the client's */
  timeout?: number | undefined;
  /** This call's retries. @default the client's */
  maxRetries?: number | undefined;
  /** This call's stream idle timeout (milliseconds). @default the client's */
  streamIdleTimeout?: number | undefined;
  /** This call's validation mode. @default the client's */
  validation?: ValidationMode | undefined;
  /** Headers added to this request. */
  headers?: Record<string, string> | undefined;
  /** Aborts the request (and a stream) when it fires: `APIUserAbortError`. */
  signal?: AbortSignal | undefined;
}

/** One generated operation as the pipeline needs it. */
export interface Endpoint {
  readonly operationId: string;
  readonly path: string;
  readonly endpoint: string;
  readonly wire: "native" | "openai" | string;
  /** Send what the model's mode requires when the call leaves it out (`x-requires*`), and
   * `incremental_output: true` when streaming and the caller did not say. */
  readonly incrementalByDefault: boolean;
  readonly validate: (body: Record<string, any>, stream: boolean) => Problem[];
}

type Json = Record<string, any>;

function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name] || undefined;
}

/** The OpenAI-compatible base that goes with a native base URL. */
export function compatibleBase(baseURL: string): string {
  if (baseURL.endsWith("/api/v1")) return baseURL.slice(0, -"/api/v1".length) + "/compatible-mode/v1";
  return baseURL.replace(/\/+$/, "") + "/compatible-mode/v1";
}

function userAgent(): string {
  const proc = (globalThis as { process?: { version?: string } }).process;
  return `modelstudio/${VERSION} node/${proc?.version ?? "unknown"}`;
}

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(typeof value === "number" && value >= min && Number.isFinite(value))) {
    throw new RangeError(`${name}=${String(value)}: must be a number >= ${min}`);
  }
}

function envLogger(): Logger | undefined {
  const level = (env("MODELSTUDIO_LOG") ?? "").toLowerCase();
  if (level !== "info" && level !== "debug") return undefined;
  const write = (m: string): void => console.error(`modelstudio: ${m}`);
  return level === "debug" ? { info: write, debug: write } : { info: write };
}

/** The wire body of a native call: `{model, input: {messages}, parameters}`. */
export function nativeBody(endpoint: Endpoint, params: Json, stream: boolean): Json {
  const parameters: Json = {};
  for (const key of Object.keys(params)) {
    if (key === "model" || key === "messages" || key === "stream" || key === "extra_parameters") continue;
    const value = params[key];
    if (value !== undefined && value !== null) parameters[key] = value;
  }
  mergeExtra(parameters, params["extra_parameters"]);
  if (endpoint.incrementalByDefault && typeof params["model"] === "string") {
    fillRequired(familyFor(params["model"]), parameters, stream);
  }
  const body: Json = { model: params["model"], input: { messages: params["messages"] } };
  if (Object.keys(parameters).length > 0) body["parameters"] = parameters;
  return body;
}

/** The wire body of an OpenAI-compatible call: the parameters at the top level. */
export function openaiBody(params: Json, stream: boolean): Json {
  const body: Json = {};
  for (const key of Object.keys(params)) {
    if (key === "stream" || key === "extra_parameters") continue;
    const value = params[key];
    if (value !== undefined && value !== null) body[key] = value;
  }
  mergeExtra(body, params["extra_parameters"]);
  if (stream) body["stream"] = true;
  return body;
}

function mergeExtra(into: Json, extra: unknown): void {
  if (extra === undefined || extra === null) return;
  if (!isObject(extra)) {
    throw new ValidationError(`extra_parameters: must be an object`, { param: "extra_parameters", value: extra, rule: "must be an object" });
  }
  for (const [key, value] of Object.entries(extra)) {
    if (key in into) {
      const rule = `repeats a named parameter: pass ${key} instead`;
      throw new ValidationError(`extra_parameters.${key}: ${rule}`, { param: `extra_parameters.${key}`, value, rule });
    }
    into[key] = value;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new APIUserAbortError());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new APIUserAbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** What Node's timers have beyond a browser's: the handle `setTimeout` returns can be re-armed. */
interface Rearmable {
  refresh(): unknown;
  ref(): unknown;
  unref(): unknown;
}

function isRearmable(timer: unknown): timer is Rearmable {
  const t = timer as Partial<Rearmable> | null;
  return typeof t === "object" && t !== null && typeof t.refresh === "function" && typeof t.ref === "function" && typeof t.unref === "function";
}

function oneShot(ms: number, onFire: () => void): () => void {
  const timer = setTimeout(onFire, ms);
  return () => clearTimeout(timer);
}

/**
 * The attempt timeouts of one client. `start(ms, onFire)` calls `onFire` after `ms` unless the
 * function it returns (stop) runs first, as `setTimeout` / `clearTimeout` would. Calls one after
 * the other with the client's timeout share one Node timer, re-armed with `refresh()` and
 * `unref()`ed while no attempt runs (so that it never keeps the process alive): a fresh timer per
 * call makes Node build and drop its timer list for that duration on every call. An attempt
 * while another runs, another duration, or a runtime without re-armable timers gets a timer of
 * its own.
 */
class AttemptTimers {
  readonly #ms: number;
  #shared: Rearmable | null = null;
  #rearmable = true;
  /** The attempt the shared timer runs for; null while it is idle. */
  #onFire: (() => void) | null = null;

  constructor(ms: number) {
    this.#ms = ms;
  }

  start(ms: number, onFire: () => void): () => void {
    if (ms !== this.#ms || this.#onFire !== null || !this.#rearmable) return oneShot(ms, onFire);
    let shared = this.#shared;
    if (shared === null) {
      const created: unknown = setTimeout(() => this.#fire(), ms);
      if (!isRearmable(created)) {
        this.#rearmable = false;
        clearTimeout(created as ReturnType<typeof setTimeout>);
        return oneShot(ms, onFire);
      }
      this.#shared = shared = created;
    } else {
      shared.ref();
      shared.refresh();
    }
    this.#onFire = onFire;
    return () => {
      if (this.#onFire === onFire) this.#idle();
    };
  }

  #idle(): void {
    this.#onFire = null;
    this.#shared?.unref();
  }

  #fire(): void {
    const onFire = this.#onFire;
    this.#idle();
    onFire?.();
  }
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = cause && typeof cause.code === "string" ? cause.code : "";
  const detail = cause && typeof cause.message === "string" ? cause.message : error.message;
  return code ? `${code}: ${detail}` : detail || error.name;
}

/** The request pipeline shared by the generated resources; subclassed by `ModelStudio`. */
export class APIClient {
  readonly #apiKey: string;
  readonly baseURL: string;
  readonly workspace: string | null;
  readonly maxRetries: number;
  readonly timeout: number;
  readonly streamIdleTimeout: number;
  readonly validation: ValidationMode;
  readonly #defaultHeaders: Record<string, string>;
  readonly #fetch: FetchLike;
  readonly #logger: Logger | undefined;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #given: ClientOptions;
  readonly #headerSets: Array<Record<string, string> | undefined> = [];
  readonly #timers: AttemptTimers;

  constructor(options: ClientOptions = {}) {
    const key = options.apiKey ?? env("DASHSCOPE_API_KEY");
    if (!key) {
      throw new ModelStudioError(
        "No API key: pass apiKey to the client or set the DASHSCOPE_API_KEY environment variable.",
      );
    }
    if (options.region !== undefined && !(options.region in REGIONS)) {
      throw new RangeError(`region=${JSON.stringify(options.region)}: must be one of "intl", "cn"`);
    }
    checkCount("maxRetries", options.maxRetries, 0);
    checkCount("timeout", options.timeout, 1);
    checkCount("streamIdleTimeout", options.streamIdleTimeout, 1);
    const validation = options.validation ?? "strict";
    if (!VALIDATION_MODES.includes(validation)) {
      throw new RangeError(`validation=${JSON.stringify(validation)}: must be one of "strict", "warn", "off"`);
    }
    const url =
      options.baseURL ??
      (options.region !== undefined ? REGIONS[options.region] : undefined) ??
      env("DASHSCOPE_BASE_URL") ??
      env("DASHSCOPE_HTTP_BASE_URL") ??
      REGIONS.intl;
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== "function") {
      throw new ModelStudioError("No fetch: this runtime has no global fetch; pass one as the fetch option.");
    }
    this.#apiKey = key;
    this.#given = { ...options };
    this.baseURL = url.replace(/\/+$/, "");
    this.workspace = options.workspace ?? null;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT;
    this.streamIdleTimeout = options.streamIdleTimeout ?? DEFAULT_STREAM_IDLE_TIMEOUT;
    this.validation = validation;
    this.#defaultHeaders = { ...(options.defaultHeaders ?? {}) };
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#logger = options.logger ?? envLogger();
    this.#sleep = options.sleep ?? sleep;
    this.#timers = new AttemptTimers(this.timeout);
  }

  /** The options this client was made with, the key included (for `withOptions`). */
  protected options(): ClientOptions {
    return { ...this.#given, apiKey: this.#apiKey };
  }

  /** What `JSON.stringify(client)` shows: the settings, never the key. */
  toJSON(): Record<string, unknown> {
    return {
      baseURL: this.baseURL,
      workspace: this.workspace,
      maxRetries: this.maxRetries,
      timeout: this.timeout,
      streamIdleTimeout: this.streamIdleTimeout,
      validation: this.validation,
    };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `${this.constructor.name} ${JSON.stringify(this.toJSON())}`;
  }

  /** The headers of a call without per-call extras: built once per client and kind of call. */
  #headerSet(stream: boolean, native: boolean): Record<string, string> {
    const kind = stream ? (native ? 2 : 1) : 0;
    const cached = this.#headerSets[kind];
    if (cached !== undefined) return cached;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#apiKey}`,
      "Content-Type": "application/json",
      "User-Agent": userAgent(),
    };
    if (this.workspace) headers["X-DashScope-WorkSpace"] = this.workspace;
    if (stream) {
      headers["Accept"] = "text/event-stream";
      if (native) headers["X-DashScope-SSE"] = "enable";
    }
    Object.assign(headers, this.#defaultHeaders);
    this.#headerSets[kind] = headers;
    return headers;
  }

  /** Validate and send one call; a JSON answer, or a `Stream` when `params.stream` is true. */
  async call(endpoint: Endpoint, params: Json, options: RequestOptions = {}): Promise<unknown> {
    if (!isObject(params)) {
      throw new ValidationError("params: must be an object", { param: "params", value: params, rule: "must be an object" });
    }
    const stream = params["stream"] === true;
    const native = endpoint.wire === "native";
    const body = native ? nativeBody(endpoint, params, stream) : openaiBody(params, stream);
    const mode = options.validation ?? this.validation;
    if (mode !== "off") {
      const model = typeof body["model"] === "string" ? body["model"] : null;
      enforce(endpoint.validate(body, stream), mode, model);
    }
    const url = (native ? this.baseURL : compatibleBase(this.baseURL)) + endpoint.path;
    const payload = JSON.stringify(body);
    let headers = this.#headerSet(stream, native);
    // An uploaded temporary file (oss://...) is resolved by the service only when asked to.
    const oss = payload.includes('"oss://');
    if (oss || options.headers) {
      headers = { ...headers, ...(oss ? { "X-DashScope-OssResourceResolve": "enable" } : {}), ...options.headers };
    }
    const maxRetries = options.maxRetries ?? this.maxRetries;
    const timeout = options.timeout ?? this.timeout;
    const signal = options.signal;
    const key = this.#apiKey;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new APIUserAbortError();
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      let timedOut = false;
      const stopTimer = this.#timers.start(timeout, () => {
        timedOut = true;
        controller.abort();
      });
      const done = (): void => {
        stopTimer();
        signal?.removeEventListener("abort", onAbort);
      };
      this.#logger?.debug?.(`request POST ${url} (attempt ${attempt + 1})`);
      let response: Response;
      try {
        response = await this.#fetch(url, { method: "POST", headers, body: payload, signal: controller.signal });
      } catch (error) {
        done();
        if (signal?.aborted) throw new APIUserAbortError(undefined, { cause: error });
        if (timedOut) throw new APITimeoutError(`Request timed out after ${timeout} ms.`, { cause: error });
        const detail = redactKey(describeFailure(error), key);
        const failure = new APIConnectionError(`Connection error: ${detail}`, { cause: error });
        const decision = decideForFailure("connect", detail);
        if (decision.retry && attempt < maxRetries) {
          await this.#pause(attempt, maxRetries, decision.reason, null, signal);
          continue;
        }
        throw failure;
      }
      this.#logger?.debug?.(
        `response ${response.status} (attempt ${attempt + 1}) request_id=${response.headers.get("x-request-id")}`,
      );
      if (!response.ok) {
        let text = "";
        try {
          text = await response.text();
        } catch {
          text = "";
        }
        done();
        const error = errorFromResponseBody(response.status, response.headers, text, key);
        const decision = decideForStatus(error.status, error.code, error.message);
        if (decision.retry && attempt < maxRetries) {
          await this.#pause(attempt, maxRetries, decision.reason, response.headers, signal);
          continue;
        }
        throw error;
      }
      if (stream && !(response.headers.get("content-type") ?? "").includes("application/json")) {
        stopTimer(); // from here on the stream idle timeout applies
        const accumulator = native
          ? new Accumulator(!(isObject(body["parameters"]) && body["parameters"]["incremental_output"] === false))
          : new ChatAccumulator(isObject(body["stream_options"]) && body["stream_options"]["include_usage"] === true);
        const idleTimeout = options.streamIdleTimeout ?? this.streamIdleTimeout;
        return new Stream(response, controller, {
          accumulator,
          idleTimeout,
          apiKey: key,
          userSignal: signal,
          onEnd: () => signal?.removeEventListener("abort", onAbort),
        });
      }
      let text: string;
      try {
        text = await response.text();
      } catch (error) {
        done();
        if (signal?.aborted) throw new APIUserAbortError(undefined, { cause: error });
        if (timedOut) throw new APITimeoutError(`Request timed out after ${timeout} ms.`, { cause: error });
        throw new APIConnectionError(`The connection broke while reading the answer: ${describeFailure(error)}`, {
          cause: error,
        });
      }
      done();
      return decodeJSON(response, text, key, stream);
    }
  }

  async #pause(
    attempt: number,
    maxRetries: number,
    reason: string,
    headers: Headers | null,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const delay = backoffDelay(attempt + 1, headers);
    this.#logger?.info(describeRetry(attempt + 1, maxRetries, reason, delay));
    await this.#sleep(delay * 1000, signal);
  }
}

/** A 2xx answer that cannot be read as the documented one, as Python's `_unreadable`. */
function unreadable(response: Response, text: string, apiKey: string, what: string, cause?: unknown): APIResponseValidationError {
  return new APIResponseValidationError(
    `The answer (HTTP ${response.status}) cannot be read as the documented one: ${what}`,
    { path: "(the body)", status: response.status, headers: response.headers, body: text, cause },
    apiKey,
  );
}

function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function decodeJSON(response: Response, text: string, apiKey: string, stream: boolean): Json {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw unreadable(response, text, apiKey, `the body is not JSON (${text.length} characters)`, error);
  }
  if (!isObject(data)) throw unreadable(response, text, apiKey, `the body is ${jsonKind(data)}, not an object`);
  // The header is read only where the body does not say (a 2xx answer nearly always carries its
  // request_id): one lookup in undici's header list fewer per call.
  const headerRequestId = (): string | null => response.headers.get("x-request-id");
  if (errorInSuccessBody(data)) {
    const [code, message, bodyRequestId] = errorFields(data);
    const status = data["status_code"];
    throw makeStatusError(
      {
        status: Number.isInteger(status) && status >= 400 ? status : 400,
        code,
        message: message ?? "",
        request_id: bodyRequestId ?? headerRequestId(),
        headers: response.headers,
        body: text,
      },
      apiKey,
    );
  }
  if (stream) throw new APIError("A streaming call got a JSON answer instead of an event stream.", { request_id: headerRequestId() });
  if ((response.headers.get("x-dashscope-partialresponse") ?? "").toLowerCase() === "true") data["partial"] = true;
  if (data["request_id"] == null) {
    const requestId = headerRequestId();
    if (requestId) data["request_id"] = requestId;
  }
  return data;
}
