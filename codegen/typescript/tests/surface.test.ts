/** The public surface fixed by the issue: names, types the snippet relies on, key hygiene. */

import assert from "node:assert/strict";
import { inspect } from "node:util";
import { test } from "node:test";

import {
  APIConnectionError,
  APIError,
  APIStatusError,
  APITimeoutError,
  IncompleteStreamError,
  ModelStudio,
  RateLimitError,
  ValidationError,
  defaultsFor,
} from "../src/index.js";

// Type-checked by strict tsc: the snippet of the issue, as a user writes it.
export async function snippet(apiKey: string, baseURL: string): Promise<string> {
  const client = new ModelStudio({ apiKey, baseURL, maxRetries: 2, timeout: 30_000 });
  const messages = [{ role: "user" as const, content: "Hi" }];
  const r = await client.generation.create({ model: "qwen-plus", messages, result_format: "message" });
  let out = `${r.output.choices[0]!.message.content} ${r.usage.total_tokens} ${r.request_id}`;
  const s = await client.generation.create({ model: "qwen-plus", messages, stream: true });
  for await (const chunk of s) out += chunk.delta.text;
  const final = await s.finalResponse();
  out += final.output.choices.length;
  await client.multimodal.create({ model: "qwen-vl-max", messages: [{ role: "user", content: [{ image: "https://x/y.png" }] }] });
  await client.chat.completions.create({ model: "qwen-plus", messages });
  defaultsFor("qwen-plus", { enableThinking: false });
  return out;
}

test("the error classes form the documented hierarchy", () => {
  assert.ok(RateLimitError.prototype instanceof APIStatusError);
  assert.ok(APIStatusError.prototype instanceof APIError);
  assert.ok(APITimeoutError.prototype instanceof APIConnectionError);
  assert.ok(IncompleteStreamError.prototype instanceof APIConnectionError);
  assert.ok(!(ValidationError.prototype instanceof APIError));
});

test("defaultsFor follows the table and the thinking mode", () => {
  assert.deepEqual(defaultsFor("qwen-plus", { enableThinking: false }), {
    result_format: "text",
    incremental_output: false,
    top_k: 20,
    top_p: 0.8,
    presence_penalty: 0,
    enable_thinking: false,
  });
  assert.equal(defaultsFor("qwen-plus", { enableThinking: true })["top_p"], 0.95);
  assert.equal(typeof defaultsFor("some-future-model"), "object");
});

test("the API key never shows in JSON.stringify, inspect or option errors", () => {
  const key = "sk-surface-secret-0001";
  const client = new ModelStudio({ apiKey: key, baseURL: "http://127.0.0.1:9/api/v1" });
  assert.ok(!JSON.stringify(client).includes(key));
  assert.ok(!inspect(client, { depth: 5, showHidden: true }).includes(key));
  assert.ok(!JSON.stringify(client.generation).includes(key));
  assert.equal(client.baseURL, "http://127.0.0.1:9/api/v1");
});

test("the key and base URL come from the environment", () => {
  const saved = { ...process.env };
  try {
    process.env["DASHSCOPE_API_KEY"] = "sk-from-env";
    process.env["DASHSCOPE_BASE_URL"] = "http://127.0.0.1:1/api/v1/";
    assert.equal(new ModelStudio().baseURL, "http://127.0.0.1:1/api/v1");
    delete process.env["DASHSCOPE_API_KEY"];
    assert.throws(() => new ModelStudio(), /DASHSCOPE_API_KEY/);
  } finally {
    process.env = saved;
  }
});

test("ValidationError names the parameter, value, range and model, before any fetch", async () => {
  let fetched = 0;
  const client = new ModelStudio({
    apiKey: "sk-x",
    maxRetries: 0,
    fetch: async () => {
      fetched++;
      throw new Error("must not be called");
    },
  });
  const error = await client.generation
    .create({ model: "qwen-plus", messages: [{ role: "user", content: "Hi" }], top_p: 0 })
    .catch((e: unknown) => e);
  assert.ok(error instanceof ValidationError);
  assert.equal(error.param, "top_p");
  assert.equal(error.value, 0);
  assert.equal(error.rule, "must be > 0 and <= 1");
  assert.equal(error.kind, "range");
  assert.equal(error.model, "qwen-plus");
  assert.match(error.message, /top_p=0: must be > 0 and <= 1 \(model "qwen-plus"/);
  assert.equal(fetched, 0);
  const unknown = await client.generation
    .create({ model: "brand-new-model", messages: [{ role: "user", content: "Hi" }] })
    .catch((e: unknown) => e);
  assert.ok(!(unknown instanceof ValidationError), "unknown models are never rejected");
});
