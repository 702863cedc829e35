/** The retry policy (pure): which answers are retried, and how long the client waits. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, decideForStatus, serverDelay } from "../src/retry.js";

test("statuses and DashScope codes", () => {
  const cases: Array<[number, string | null, string | null, boolean]> = [
    [429, "Throttling.RateQuota", "", true],
    [429, "Arrearage", "", false],
    [429, null, "Free allocated quota exceeded.", false],
    [500, "InternalError.Algo", "", true],
    [500, null, "", true],
    [500, "SystemError", "", true],
    [500, "SomethingDefinite", "", false],
    [500, "InternalError.Algo.DataInspectionFailed", "", false],
    [400, "DataInspectionFailed", "", false],
    [503, "InvalidParameter", "", false],
    [502, null, "", true],
    [504, null, "", true],
    [400, "InvalidParameter", "", false],
    [401, "InvalidApiKey", "", false],
    [404, "ModelNotFound", "", false],
  ];
  for (const [status, code, message, retry] of cases) {
    assert.equal(decideForStatus(status, code, message).retry, retry, `${status} ${code} ${message}`);
  }
});

test("backoff doubles from 0.5 s to at most 8 s with up to 25 % jitter", () => {
  assert.equal(backoffDelay(1, null, () => 0), 0.5);
  assert.equal(backoffDelay(1, null, () => 1), 0.375);
  assert.equal(backoffDelay(3, null, () => 0), 2);
  assert.equal(backoffDelay(10, null, () => 0), 8);
});

test("Retry-After (seconds or HTTP date) and retry-after-ms within (0, 60] s are obeyed", () => {
  assert.equal(backoffDelay(1, new Headers({ "retry-after": "3" }), () => 0), 3);
  assert.equal(backoffDelay(1, { "Retry-After-Ms": "250" }, () => 0), 0.25);
  assert.equal(backoffDelay(1, new Headers({ "retry-after": "120" }), () => 0), 0.5);
  assert.equal(backoffDelay(1, new Headers({ "retry-after": "0" }), () => 0), 0.5);
  const now = Date.parse("Tue, 01 Dec 2026 08:00:00 GMT") / 1000;
  const later = new Headers({ "retry-after": "Tue, 01 Dec 2026 08:00:05 GMT" });
  assert.equal(serverDelay(later, () => now), 5);
  assert.equal(backoffDelay(1, new Headers({ "retry-after": "soon" }), () => 0), 0.5);
});
