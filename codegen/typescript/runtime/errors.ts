/**
 * The errors the SDK throws, and how an error response becomes one.
 *
 *     Error
 *      ├── ValidationError              bad argument, thrown before any I/O
 *      └── ModelStudioError             base of everything else
 *           └── APIError                .message, .request_id
 *                ├── APIStatusError     the server answered with an error (.status, .code, ...)
 *                │    ├── BadRequestError 400, AuthenticationError 401,
 *                │    ├── PermissionDeniedError 403, NotFoundError 404, ConflictError 409,
 *                │    ├── UnprocessableEntityError 422, RateLimitError 429
 *                │    └── InternalServerError >= 500
 *                ├── APIConnectionError no (complete) answer
 *                │    ├── APITimeoutError
 *                │    └── IncompleteStreamError  the stream ended before its final event
 *                └── APIUserAbortError  the caller's AbortSignal fired
 *
 * No error holds the request headers, and a key the server echoes back is replaced by `***`,
 * so the API key cannot leak through a message, `JSON.stringify(error)` or a log line.
 */

import type { Problem, ProblemKind } from "./checks.js";
import { BILLING, type CodeSet, MODERATION, THROTTLING } from "./errorCodes.js";

const MAX_TEXT_MESSAGE = 500;

function norm(code: string | null | undefined): string {
  return (code ?? "").trim().toLowerCase();
}

function lastSegment(code: string): string {
  const i = code.lastIndexOf(".");
  return i < 0 ? code : code.slice(i + 1);
}

function hasCode(codes: CodeSet, normalized: string): boolean {
  return (
    codes.exact.has(normalized) ||
    codes.prefixes.has(normalized.split(".", 1)[0]!) ||
    codes.segments.has(normalized) ||
    codes.segments.has(lastSegment(normalized))
  );
}

function says(codes: CodeSet, message: string | null | undefined): boolean {
  const text = (message ?? "").toLowerCase();
  return codes.messages.some((f) => text.includes(f));
}

/** The account cannot be charged (overdue bill, not purchased, free quota used up). */
export function isBillingError(code: string | null | undefined, message: string | null | undefined): boolean {
  return hasCode(BILLING, norm(code)) || says(BILLING, message);
}

/** Content moderation rejected the input or the output (`DataInspectionFailed`, any form). */
export function isModerationError(code: string | null | undefined, message: string | null | undefined): boolean {
  return hasCode(MODERATION, norm(code)) || says(MODERATION, message);
}

/** A rate limit was hit (`Throttling*`, `LimitRequests`, any 429 but billing errors). */
export function isThrottlingError(
  status: number | null | undefined,
  code: string | null | undefined,
  message: string | null | undefined,
): boolean {
  if (isBillingError(code, message)) return false;
  if (hasCode(THROTTLING, norm(code)) || says(THROTTLING, message)) return true;
  return status === 429;
}

/** Base class of every error the SDK throws, except `ValidationError`. */
export class ModelStudioError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

export interface ValidationDetails {
  param: string;
  value: unknown;
  rule: string;
  kind?: ProblemKind;
  model?: string | null;
  docs?: string | null;
  problems?: readonly Problem[];
}

/**
 * An argument is invalid; thrown before any request is sent. `param` names the parameter
 * (`temperature`, `messages[0].content`), `value` what it was, `rule` the rule it broke (with
 * the allowed range), `model` the model the rule was checked for, `docs` where it is documented.
 */
export class ValidationError extends Error {
  readonly param: string;
  readonly value: unknown;
  readonly rule: string;
  /** The kind of rule: "range", "enum", "type", "rule" (cross-field), "model" (per-model)... */
  readonly kind: ProblemKind;
  readonly model: string | null;
  readonly docs: string | null;
  /** Every problem found, the first one being the one described by the other fields. */
  readonly problems: readonly Problem[];

  constructor(message: string, details: ValidationDetails) {
    super(message);
    this.param = details.param;
    this.value = details.value;
    this.rule = details.rule;
    this.kind = details.kind ?? "rule";
    this.model = details.model ?? null;
    this.docs = details.docs ?? null;
    this.problems = details.problems ?? [];
  }

  override get name(): string {
    return "ValidationError";
  }
}

/** A request failed. `message` is the human-readable reason; `toString()` adds the request id. */
export class APIError extends ModelStudioError {
  readonly request_id: string | null;

  constructor(message: string, options: { request_id?: string | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.request_id = options.request_id ?? null;
  }

  override toString(): string {
    return `${this.name}: ${this.message}${this.request_id ? ` (request_id: ${this.request_id})` : ""}`;
  }
}

export interface StatusErrorInit {
  status: number;
  code?: string | null;
  message: string;
  request_id?: string | null;
  headers?: Headers | Record<string, string> | null;
  body?: string;
}

/**
 * The server answered with an error. `status` is the HTTP status (for a streamed error, the
 * status the stream reported in `:HTTP_STATUS/NNN`), `code` the API's error code
 * (`InvalidParameter`, `Throttling.RateQuota`...), `message` its message, `request_id` the
 * id to quote to support, `headers` the response headers and `body` the raw response body.
 */
export class APIStatusError extends APIError {
  readonly status: number;
  readonly code: string | null;
  readonly headers: Headers;
  readonly body: string;

  constructor(init: StatusErrorInit) {
    super(init.message, { request_id: init.request_id ?? null });
    this.status = init.status;
    this.code = init.code ?? null;
    this.headers = new Headers(init.headers ?? undefined);
    this.headers.delete("authorization");
    this.body = init.body ?? "";
  }

  /** `Error code: 429 - Throttling.RateQuota: message (request_id: ...)`, as Python's str(). */
  override toString(): string {
    const text = `Error code: ${this.status} - ${this.code ? `${this.code}: ${this.message}` : this.message}`;
    return `${this.name}: ${text}${this.request_id ? ` (request_id: ${this.request_id})` : ""}`;
  }

  /** The HTTP status, under the Python binding's name. */
  get status_code(): number {
    return this.status;
  }

  /** Content moderation rejected the input or the output (`DataInspectionFailed`). */
  get isModeration(): boolean {
    return isModerationError(this.code, this.message);
  }

  /** A rate limit was hit (`Throttling*`, `LimitRequests`, any 429 but billing errors). */
  get isThrottling(): boolean {
    return isThrottlingError(this.status, this.code, this.message);
  }

  /** The account cannot be charged (`Arrearage`, overdue bill, free quota used up). */
  get isBilling(): boolean {
    return isBillingError(this.code, this.message);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      status: this.status,
      code: this.code,
      message: this.message,
      request_id: this.request_id,
    };
  }
}

/** HTTP 400: the request was rejected (`InvalidParameter`, `DataInspectionFailed`...). */
export class BadRequestError extends APIStatusError {}
/** HTTP 401: the API key is missing or invalid (`InvalidApiKey`). */
export class AuthenticationError extends APIStatusError {}
/** HTTP 403: the key may not use this model or workspace (`AccessDenied`...). */
export class PermissionDeniedError extends APIStatusError {}
/** HTTP 404: the model or the resource does not exist (`ModelNotFound`...). */
export class NotFoundError extends APIStatusError {}
/** HTTP 409. */
export class ConflictError extends APIStatusError {}
/** HTTP 422. */
export class UnprocessableEntityError extends APIStatusError {}
/** HTTP 429: a rate limit or a quota was hit (see `isThrottling` and `isBilling`). */
export class RateLimitError extends APIStatusError {}
/** HTTP 5xx: the service failed (`InternalError`, `SystemError`...). */
export class InternalServerError extends APIStatusError {}

/** The most characters of an answer an `APIResponseValidationError` keeps. */
export const MAX_BODY_EXCERPT = 1000;

/**
 * The service answered 2xx, but its answer cannot be read as the documented one: the body (or a
 * stream event's data) is not JSON or is not an object. `path` names what is out of shape
 * (`"(the body)"`, `"(the event data)"`); `status`, `headers` and `request_id` are the answer's
 * and `body` its first characters (at most `MAX_BODY_EXCERPT`). Never retried: the service had
 * answered. (The Python binding raises the same class for a field out of shape as well.)
 */
export class APIResponseValidationError extends APIError {
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;

  constructor(
    message: string,
    init: {
      path: string;
      status: number;
      headers?: Headers | null;
      body?: string;
      request_id?: string | null;
      cause?: unknown;
    },
    apiKey?: string | null,
  ) {
    const requestId = init.request_id ?? init.headers?.get("x-request-id") ?? null;
    super(redactKey(message, apiKey), { request_id: requestId, cause: init.cause });
    this.path = init.path;
    this.status = init.status;
    this.headers = new Headers(init.headers ?? undefined);
    this.headers.delete("authorization");
    this.body = redactKey(init.body ?? "", apiKey).slice(0, MAX_BODY_EXCERPT);
  }

  /** The HTTP status, under the Python binding's name. */
  get status_code(): number {
    return this.status;
  }
}

/** No complete answer arrived: the connection failed or broke. */
export class APIConnectionError extends APIError {
  constructor(message = "Connection error.", options: { request_id?: string | null; cause?: unknown } = {}) {
    super(message, options);
  }
}

/** The request timed out (`timeout`), or a stream was silent too long (`streamIdleTimeout`). */
export class APITimeoutError extends APIConnectionError {
  constructor(message = "Request timed out.", options: { request_id?: string | null; cause?: unknown } = {}) {
    super(message, options);
  }
}

/** The stream was cut before its final event; `received_events` events had arrived. */
export class IncompleteStreamError extends APIConnectionError {
  readonly received_events: number;

  constructor(
    message: string | null,
    options: { received_events: number; request_id?: string | null; cause?: unknown },
  ) {
    const n = options.received_events;
    super(message ?? `The stream was cut before the final event (after ${n} event${n === 1 ? "" : "s"}).`, options);
    this.received_events = n;
  }
}

/** The caller aborted the request with its own `AbortSignal`. */
export class APIUserAbortError extends APIError {
  constructor(message = "Request was aborted.", options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

const STATUS_CLASSES: Record<number, typeof APIStatusError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  422: UnprocessableEntityError,
  429: RateLimitError,
};

function statusClass(status: number): typeof APIStatusError {
  if (status >= 500) return InternalServerError;
  return STATUS_CLASSES[status] ?? APIStatusError;
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** `text` with every occurrence of the key replaced by `***`. */
export function redactKey(text: string, apiKey: string | null | undefined): string {
  const key = (apiKey ?? "").trim();
  return key ? text.split(key).join("***") : text;
}

/** The `APIStatusError` subclass for `status` (>= 500: InternalServerError), key redacted. */
export function makeStatusError(init: StatusErrorInit, apiKey?: string | null): APIStatusError {
  const message = redactKey(init.message || REASONS[init.status] || `HTTP ${init.status}`, apiKey);
  const Class = statusClass(init.status);
  return new Class({
    ...init,
    message,
    code: init.code || null,
    request_id: init.request_id || null,
    body: redactKey(init.body ?? "", apiKey),
  });
}

function strOrNull(value: unknown): string | null {
  if (typeof value === "string") return value.trim() || null;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** (code, message, request_id) from a native or an OpenAI-compatible error object. */
export function errorFields(payload: Record<string, unknown>): [string | null, string | null, string | null] {
  let requestId = strOrNull(payload["request_id"]);
  const error = payload["error"];
  if (isRecord(error)) {
    const code = strOrNull(error["code"]) ?? strOrNull(error["type"]);
    requestId = requestId ?? strOrNull(error["request_id"]);
    return [code, strOrNull(error["message"]), requestId];
  }
  if (typeof error === "string" && error.trim() && !payload["message"]) {
    return [strOrNull(payload["code"]), error.trim(), requestId];
  }
  return [strOrNull(payload["code"]), strOrNull(payload["message"]), requestId];
}

/** Whether an HTTP 200 JSON body is really an error (a non-empty `code` or `error` object). */
export function errorInSuccessBody(payload: Record<string, unknown>): boolean {
  const code = payload["code"];
  if (typeof code === "string" && code.trim()) return true;
  const error = payload["error"];
  return isRecord(error) && Object.keys(error).length > 0;
}

function parseSSEError(text: string): [number | null, Record<string, unknown> | null] {
  let status: number | null = null;
  let chosen: Record<string, unknown> | null = null;
  let eventName = "";
  let eventStatus: number | null = null;
  let data: string[] = [];
  const finish = (): void => {
    if (data.length) {
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        parsed = null;
      }
      const isErrorEvent = eventName === "error";
      if (isRecord(parsed) && (isErrorEvent || errorInSuccessBody(parsed)) && (chosen === null || isErrorEvent)) {
        chosen = parsed;
        status = eventStatus;
      }
    }
    eventName = "";
    eventStatus = null;
    data = [];
  };
  for (const raw of text.split(/\r\n|\r|\n/)) {
    if (!raw) {
      finish();
      continue;
    }
    if (raw.startsWith(":")) {
      const comment = raw.slice(1).trim();
      if (comment.toUpperCase().startsWith("HTTP_STATUS/")) {
        const n = Number.parseInt(comment.slice(12).trim(), 10);
        eventStatus = Number.isNaN(n) ? null : n;
      }
      continue;
    }
    const colon = raw.indexOf(":");
    const field = colon < 0 ? raw : raw.slice(0, colon);
    let value = colon < 0 ? "" : raw.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") eventName = value.trim();
    else if (field === "data") data.push(value);
  }
  finish();
  return [status, chosen];
}

function looksLikeEventStream(contentType: string, text: string): boolean {
  if (contentType.toLowerCase().includes("text/event-stream")) return true;
  const first = text.trimStart().split("\n", 1)[0] ?? "";
  return ["id:", "event:", "data:", ":HTTP_STATUS"].some((p) => first.startsWith(p));
}

function truncate(text: string): string | null {
  if (!text) return null;
  return text.length <= MAX_TEXT_MESSAGE ? text : text.slice(0, MAX_TEXT_MESSAGE - 3) + "...";
}

/**
 * Decode an error response into the matching `APIStatusError`: the native body `{request_id,
 * code, message}`, the OpenAI-compatible `{error: {message, type, code}}`, or an event stream
 * whose `event:error` carries `:HTTP_STATUS/NNN` (that status replaces an HTTP 200). Any other
 * body becomes the message, cut to 500 characters. A UTF-8 byte order mark is ignored.
 */
export function errorFromResponseBody(
  status: number,
  headers: Headers,
  body: string,
  apiKey?: string | null,
): APIStatusError {
  const stripped = (body.startsWith("\ufeff") ? body.slice(1) : body).trim();
  let code: string | null = null;
  let message: string | null = null;
  let requestId: string | null = null;
  let finalStatus = status;
  let payload: unknown = null;
  if (looksLikeEventStream(headers.get("content-type") ?? "", stripped)) {
    const [sseStatus, found] = parseSSEError(stripped);
    payload = found;
    if (sseStatus !== null && status < 400) finalStatus = sseStatus;
    if (found === null) message = truncate(stripped);
  } else {
    try {
      payload = stripped ? JSON.parse(stripped) : null;
    } catch {
      payload = null;
    }
    if (!isRecord(payload)) message = truncate(stripped);
  }
  if (isRecord(payload)) [code, message, requestId] = errorFields(payload);
  requestId = requestId ?? strOrNull(headers.get("x-request-id"));
  return makeStatusError(
    { status: finalStatus, code, message: message ?? "", request_id: requestId, headers, body },
    apiKey,
  );
}
