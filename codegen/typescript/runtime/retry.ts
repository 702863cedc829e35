/**
 * Retry decisions, the same policy as the Python binding (its `_retry` module): pure functions.
 *
 * Retried (at most `maxRetries` times, 2 by default): HTTP 429 unless it is a billing error
 * (`Arrearage`, `CommodityNotPurchased`, overdue bills, "Free allocated quota exceeded"); HTTP
 * 500 with a transient code (`InternalError` and `InternalError.*`, `SystemError`,
 * `ModelServiceFailed`, `RequestTimeOut`, `ServiceUnavailable`...) or with no code at all (a
 * gateway failed); HTTP 502, 503, 504; a connection that failed before any byte of the answer.
 *
 * Never retried: 400, 401, 403, 404 and every other status, `DataInspectionFailed` and
 * `InvalidParameter` (any form, any status), a timeout (the server may be working on the
 * request), and anything once the answer has started.
 */

import { isBillingError, isModerationError } from "./errors.js";

export const DEFAULT_MAX_RETRIES = 2;
/** Delay before the first retry, in seconds (before jitter). */
export const INITIAL_DELAY = 0.5;
/** Longest computed delay, in seconds (before jitter). */
export const MAX_DELAY = 8.0;
/** Longest server-requested delay (Retry-After) that is honoured, in seconds. */
export const MAX_SERVER_DELAY = 60.0;

const TRANSIENT_500_CODES = new Set([
  "systemerror",
  "modelservicefailed",
  "requesttimeout",
  "serviceunavailable",
  "modelunavailable",
  "internal_error",
  "server_error",
]);
const TRANSIENT_500_PREFIXES = ["internalerror"];
const ALWAYS_RETRIED = new Set([502, 503, 504]);

export interface RetryDecision {
  readonly retry: boolean;
  readonly reason: string;
}

function label(status: number, code: string | null | undefined): string {
  return code ? `HTTP ${status} ${code}` : `HTTP ${status}`;
}

function isInvalidParameter(code: string | null | undefined): boolean {
  const n = (code ?? "").trim().toLowerCase();
  const last = n.slice(n.lastIndexOf(".") + 1);
  return last === "invalidparameter" || last === "invalid_parameter" || last === "invalid_parameter_error";
}

/** Whether an error response (status, API code, message) is worth retrying. */
export function decideForStatus(
  status: number,
  code: string | null | undefined,
  message: string | null | undefined,
): RetryDecision {
  const l = label(status, code);
  if (isModerationError(code, message)) return { retry: false, reason: `${l}: content moderation rejected the request` };
  if (isInvalidParameter(code)) return { retry: false, reason: `${l}: the request is invalid` };
  if (isBillingError(code, message)) return { retry: false, reason: `${l}: billing or quota problem on the account` };
  if (status === 429 || ALWAYS_RETRIED.has(status)) return { retry: true, reason: l };
  if (status === 500) {
    const n = (code ?? "").trim().toLowerCase();
    if (!n || TRANSIENT_500_CODES.has(n) || TRANSIENT_500_PREFIXES.includes(n.split(".", 1)[0]!)) {
      return { retry: true, reason: l };
    }
    return { retry: false, reason: `${l}: not a transient error` };
  }
  return { retry: false, reason: `${l}: not retryable` };
}

/**
 * Whether a transport failure is worth retrying: `kind` is "connect" (the request never got an
 * answer: refused, reset, DNS), "timeout" or "broken" (the answer had started).
 */
export function decideForFailure(kind: "connect" | "timeout" | "broken", detail: string): RetryDecision {
  if (kind === "connect") return { retry: true, reason: detail };
  if (kind === "timeout") return { retry: false, reason: `${detail}: the server may still be processing the request` };
  return { retry: false, reason: `${detail}: the response had already started` };
}

function header(headers: Headers | Record<string, string> | null | undefined, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return null;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** The delay the server asked for, in seconds (may be out of range), or null. */
export function serverDelay(
  headers: Headers | Record<string, string> | null | undefined,
  now: () => number = () => Date.now() / 1000,
): number | null {
  const ms = header(headers, "retry-after-ms");
  if (ms !== null && NUMBER.test(ms.trim())) return finite(Number(ms.trim()) / 1000);
  const after = header(headers, "retry-after");
  if (after === null) return null;
  const text = after.trim();
  if (NUMBER.test(text)) return finite(Number(text));
  if (!/[A-Za-z]/.test(text)) return null;
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : when / 1000 - now();
}

/**
 * Seconds to wait before retry number `attempt` (1 is the first retry). A `retry-after-ms` or
 * `Retry-After` (seconds, or an HTTP date) between 0 (exclusive) and 60 seconds is obeyed as
 * is; otherwise 0.5 s doubled at each attempt, at most 8 s, times a random factor in
 * [0.75, 1.0] so that clients that failed together do not retry together.
 */
export function backoffDelay(
  attempt: number,
  headers?: Headers | Record<string, string> | null,
  rand: () => number = Math.random,
  now?: () => number,
): number {
  const asked = serverDelay(headers, now);
  if (asked !== null && asked > 0 && asked <= MAX_SERVER_DELAY) return asked;
  const exponent = Math.min(Math.max(attempt, 1) - 1, 32);
  const base = Math.min(INITIAL_DELAY * 2 ** exponent, MAX_DELAY);
  return base * (1 - 0.25 * Math.min(Math.max(rand(), 0), 1));
}

/** The log line announcing a retry (`attempt` is the retry number, 1 for the first). */
export function describeRetry(attempt: number, maxRetries: number, reason: string, delay: number): string {
  return `retrying request (attempt ${attempt + 1} of ${maxRetries + 1}) in ${delay.toFixed(2)} s: ${reason}`;
}
