/** End to end: the compiled package against the Python MockServer over loopback. */

import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";

import {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  IncompleteStreamError,
  InternalServerError,
  ModelStudio,
  RateLimitError,
  ValidationError,
} from "../src/index.js";
import { Mock } from "./mock.js";

const KEY = "sk-test-e2e-secret";
let mock: Mock;

function client(options: ConstructorParameters<typeof ModelStudio>[0] = {}): ModelStudio {
  return new ModelStudio({ apiKey: KEY, baseURL: mock.baseURL, ...options });
}

const hi = [{ role: "user" as const, content: "Hello there, how are you?" }];

before(async () => {
  mock = await Mock.start(KEY);
});
after(async () => {
  await mock.stop();
});
beforeEach(async () => {
  await mock.reset();
});

describe("non-streaming", () => {
  test("text generation answers with choices, usage and a request id", async () => {
    const r = await client().generation.create({ model: "qwen-plus", messages: hi, result_format: "message" });
    assert.equal(typeof r.output.choices[0]!.message.content, "string");
    assert.ok((r.output.choices[0]!.message.content as string).length > 0);
    assert.ok((r.usage.total_tokens ?? 0) > 0);
    assert.match(r.request_id ?? "", /.+/);
    const [request] = await mock.requests();
    assert.equal(request!.path, "/api/v1/services/aigc/text-generation/generation");
    assert.equal(request!.headers["authorization"], "Bearer sk-***");
    assert.deepEqual(request!.json.input.messages, hi);
    assert.equal(request!.json.parameters.result_format, "message");
    assert.equal(request!.headers["x-dashscope-sse"], undefined);
  });

  test("result_format text fills output.text", async () => {
    const r = await client().generation.create({ model: "qwen-plus", messages: hi, result_format: "text" });
    assert.equal(typeof r.output.text, "string");
    assert.ok(r.output.finish_reason);
  });

  test("multimodal generation sends image parts and gets a list of parts", async () => {
    const r = await client().multimodal.create({
      model: "qwen-vl-max",
      messages: [
        {
          role: "user",
          content: [{ image: "https://example.com/cat.png" }, { text: "What is in the picture?" }],
        },
      ],
    });
    const content = r.output.choices[0]!.message.content;
    assert.ok(Array.isArray(content));
    const [request] = await mock.requests();
    assert.equal(request!.path, "/api/v1/services/aigc/multimodal-generation/generation");
  });

  test("compatible mode goes to /compatible-mode/v1/chat/completions", async () => {
    const r = await client().chat.completions.create({ model: "qwen-plus", messages: hi });
    assert.equal(r.object, "chat.completion");
    assert.equal(typeof r.choices[0]!.message.content, "string");
    const [request] = await mock.requests();
    assert.equal(request!.path, "/compatible-mode/v1/chat/completions");
    assert.equal(request!.json.model, "qwen-plus");
    assert.equal(request!.json.input, undefined);
  });

  test("JSON.stringify(client) and errors never show the key", async () => {
    const c = client();
    assert.ok(!JSON.stringify(c).includes(KEY));
    const bad = new ModelStudio({ apiKey: "sk-wrong-key-123", baseURL: mock.baseURL, maxRetries: 0 });
    const error = await bad.generation.create({ model: "qwen-plus", messages: hi }).catch((e: unknown) => e);
    assert.ok(error instanceof AuthenticationError);
    assert.ok(!JSON.stringify(error).includes("sk-wrong-key-123"));
    assert.ok(!String(error).includes("sk-wrong-key-123"));
    assert.ok(!(error as Error).stack?.includes("sk-wrong-key-123"));
  });
});

describe("streaming", () => {
  test("native stream yields deltas that add up to finalResponse()", async () => {
    const s = await client().generation.create({
      model: "qwen-plus",
      messages: hi,
      result_format: "message",
      stream: true,
    });
    let text = "";
    let n = 0;
    for await (const chunk of s) {
      text += chunk.delta.text;
      n++;
    }
    assert.ok(n > 1);
    const final = await s.finalResponse();
    assert.equal(final.output.choices[0]!.message.content, text);
    assert.equal(final.output.choices[0]!.finish_reason, "stop");
    const [request] = await mock.requests();
    assert.equal(request!.headers["x-dashscope-sse"], "enable");
    assert.equal(request!.json.parameters.incremental_output, true);
  });

  test("deltas are the same when the server repeats the whole text", async () => {
    const incremental = await client().generation.create({ model: "qwen-plus", messages: hi, stream: true, result_format: "message" });
    const a: string[] = [];
    for await (const chunk of incremental) a.push(chunk.delta.text);
    const cumulative = await client().generation.create({
      model: "qwen-plus",
      messages: hi,
      stream: true,
      result_format: "message",
      incremental_output: false,
    });
    const b: string[] = [];
    for await (const chunk of cumulative) b.push(chunk.delta.text);
    assert.equal(a.join(""), b.join(""));
    assert.equal((await cumulative.finalResponse()).output.choices[0]!.message.content, b.join(""));
  });

  test("compatible-mode stream accumulates and ends at [DONE]", async () => {
    const s = await client().chat.completions.create({
      model: "qwen-plus",
      messages: hi,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    for await (const chunk of s) text += chunk.delta.text;
    const final = await s.finalResponse();
    assert.equal(final.choices[0]!.message.content, text);
    assert.ok((final.usage.total_tokens ?? 0) > 0);
    const [request] = await mock.requests();
    assert.equal(request!.json.stream, true);
  });

  test("an event:error in the stream throws the typed error for its HTTP_STATUS", async () => {
    await mock.command("enqueue_stream_error", { after_events: 2, status: 429, code: "Throttling.RateQuota" });
    const s = await client().generation.create({ model: "qwen-plus", messages: hi, stream: true });
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of s) seen++;
      })(),
      (e: unknown) => e instanceof RateLimitError && e.code === "Throttling.RateQuota" && e.status === 429,
    );
    assert.equal(seen, 2);
    assert.equal((await mock.requests()).length, 1, "never retried once the stream started");
  });

  test("a stream cut before its final event throws IncompleteStreamError", async () => {
    const event = (text: string) =>
      `id:1\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({ output: { choices: [{ message: { role: "assistant", content: text }, finish_reason: "null" }] }, request_id: "r1" })}\n\n`;
    await mock.enqueue({ status: 200, headers: { "Content-Type": "text/event-stream" }, chunks: [event("Hel"), event("lo")] });
    const s = await client().generation.create({ model: "qwen-plus", messages: hi, stream: true });
    const texts: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const chunk of s) texts.push(chunk.delta.text);
      })(),
      (e: unknown) => e instanceof IncompleteStreamError && e.received_events === 2,
    );
    assert.deepEqual(texts, ["Hel", "lo"]);
  });

  test("break aborts the request and finalResponse() then says the stream was left", async () => {
    await mock.enqueue({
      status: 200,
      headers: { "Content-Type": "text/event-stream" },
      chunks: Array.from({ length: 50 }, (_, i) => `data:{"output":{"text":"${i} ","finish_reason":"null"}}\n\n`),
      chunk_delay: 0.02,
    });
    const s = await client().generation.create({ model: "qwen-plus", messages: hi, stream: true });
    for await (const chunk of s) {
      assert.equal(chunk.delta.text, "0 ");
      break;
    }
    await assert.rejects(s.finalResponse(), IncompleteStreamError);
  });

  test("the caller's AbortSignal stops a stream with APIUserAbortError", async () => {
    await mock.enqueue({
      status: 200,
      headers: { "Content-Type": "text/event-stream" },
      chunks: ['data:{"output":{"text":"a","finish_reason":"null"}}\n\n', "never sent"],
      stall_after: 1,
    });
    const controller = new AbortController();
    const s = await client().generation.create({ model: "qwen-plus", messages: hi, stream: true }, { signal: controller.signal });
    await assert.rejects(
      (async () => {
        for await (const chunk of s) {
          assert.equal(chunk.delta.text, "a");
          controller.abort();
        }
      })(),
      APIUserAbortError,
    );
    await assert.rejects(
      client().generation.create({ model: "qwen-plus", messages: hi }, { signal: controller.signal }),
      APIUserAbortError,
    );
  });

  test("a silent stream fails after streamIdleTimeout", async () => {
    await mock.enqueue({
      status: 200,
      headers: { "Content-Type": "text/event-stream" },
      chunks: ['data:{"output":{"text":"a","finish_reason":"null"}}\n\n', "never sent"],
      stall_after: 1,
    });
    const s = await client({ streamIdleTimeout: 300 }).generation.create({ model: "qwen-plus", messages: hi, stream: true });
    const started = Date.now();
    await assert.rejects(
      (async () => {
        for await (const _ of s) void _;
      })(),
      APITimeoutError,
    );
    assert.ok(Date.now() - started < 5000);
  });
});

describe("errors and retries", () => {
  test("a broken rule throws ValidationError before any request", async () => {
    await assert.rejects(
      client().generation.create({ model: "qwen-plus", messages: hi, temperature: 2 }),
      (e: unknown) =>
        e instanceof ValidationError &&
        e.param === "temperature" &&
        e.value === 2 &&
        /< 2/.test(e.rule) &&
        e.model === "qwen-plus",
    );
    assert.equal((await mock.requests()).length, 0);
  });

  test("a per-model rule names the model", async () => {
    await assert.rejects(
      client().generation.create({ model: "qwq-plus", messages: hi }),
      (e: unknown) => e instanceof ValidationError && e.param === "stream" && e.model === "qwq-plus",
    );
  });

  test("a 400 from the server is a BadRequestError, not retried", async () => {
    await mock.enqueue({ status: 400, body: { code: "InvalidParameter", message: "bad thing" } });
    const error = await client()
      .generation.create({ model: "qwen-plus", messages: hi })
      .catch((e: unknown) => e);
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.code, "InvalidParameter");
    assert.equal(error.message, "bad thing");
    assert.ok(error.request_id);
    assert.equal((await mock.requests()).length, 1);
  });

  test("429 and 500 InternalError are retried, honouring Retry-After", async () => {
    await mock.enqueue({ status: 429, body: { code: "Throttling", message: "slow down" }, headers: { "Retry-After": "0.05" } });
    await mock.enqueue({ status: 500, body: { code: "InternalError", message: "oops" }, headers: { "retry-after-ms": "10" } });
    const r = await client().generation.create({ model: "qwen-plus", messages: hi });
    assert.ok(r.output);
    assert.equal((await mock.requests()).length, 3);
  });

  test("retries stop at maxRetries and throw the last error", async () => {
    for (let i = 0; i < 3; i++) await mock.enqueue({ status: 503, body: "upstream down", headers: { "retry-after-ms": "5" } });
    await assert.rejects(
      client({ maxRetries: 1 }).generation.create({ model: "qwen-plus", messages: hi }),
      (e: unknown) => e instanceof InternalServerError && e.status === 503,
    );
    assert.equal((await mock.requests()).length, 2);
  });

  test("billing 429 (Arrearage) is not retried", async () => {
    await mock.enqueue({ status: 429, body: { code: "Arrearage", message: "pay" } });
    await assert.rejects(client().generation.create({ model: "qwen-plus", messages: hi }), RateLimitError);
    assert.equal((await mock.requests()).length, 1);
  });

  test("a compatible-mode error body is decoded", async () => {
    await mock.enqueue({
      status: 400,
      body: { error: { message: "nope", type: "invalid_request_error", code: "invalid_parameter_error" } },
    });
    const error = await client()
      .chat.completions.create({ model: "qwen-plus", messages: hi })
      .catch((e: unknown) => e);
    assert.ok(error instanceof BadRequestError);
    assert.equal(error.code, "invalid_parameter_error");
  });

  test("a connection reset once the answer started is an APIConnectionError, not retried", async () => {
    await mock.enqueue({ status: 200, body: "{}", reset_after: 0 });
    await assert.rejects(
      client().generation.create({ model: "qwen-plus", messages: hi }),
      (e: unknown) => e instanceof APIConnectionError && !(e instanceof APITimeoutError),
    );
    assert.equal((await mock.requests()).length, 1);
  });

  test("a refused connection is an APIConnectionError after the retries", async () => {
    const c = new ModelStudio({ apiKey: KEY, baseURL: "http://127.0.0.1:9/api/v1", maxRetries: 1 });
    const error = await c.generation.create({ model: "qwen-plus", messages: hi }).catch((e: unknown) => e);
    assert.ok(error instanceof APIConnectionError);
    assert.ok(!(error instanceof APIStatusError));
  });

  test("timeout gives APITimeoutError and is not retried", async () => {
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.0 });
    await assert.rejects(
      client({ timeout: 200 }).generation.create({ model: "qwen-plus", messages: hi }),
      APITimeoutError,
    );
    assert.equal((await mock.requests()).length, 1);
  });

  test("calls one after the other each get their own timeout (the client's timer is re-armed)", async () => {
    const c = client({ timeout: 300 });
    await c.generation.create({ model: "qwen-plus", messages: hi });
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.0 });
    await assert.rejects(c.generation.create({ model: "qwen-plus", messages: hi }), APITimeoutError);
    const r = await c.generation.create({ model: "qwen-plus", messages: hi });
    assert.match(r.request_id ?? "", /.+/);
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.0 });
    await assert.rejects(c.generation.create({ model: "qwen-plus", messages: hi }), APITimeoutError);
  });

  test("calls at the same time each time out, with the client's timeout or their own", async () => {
    const c = client({ timeout: 300 });
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.5 });
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.5 });
    await mock.enqueue({ status: 200, body: { output: { text: "late" } }, first_byte_delay: 1.5 });
    const started = Date.now();
    const results = await Promise.allSettled([
      c.generation.create({ model: "qwen-plus", messages: hi }),
      c.generation.create({ model: "qwen-plus", messages: hi }),
      c.generation.create({ model: "qwen-plus", messages: hi }, { timeout: 400 }),
    ]);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.ok((r as PromiseRejectedResult).reason instanceof APITimeoutError);
    }
    assert.ok(Date.now() - started < 1400, "every call gave up before the answers came");
  });

  test("a finished call leaves nothing that keeps the process alive", async () => {
    const { spawn } = await import("node:child_process");
    const index = new URL("../src/index.js", import.meta.url).href;
    const script = `
      const { ModelStudio } = await import(${JSON.stringify(index)});
      const c = new ModelStudio({ apiKey: ${JSON.stringify(KEY)}, baseURL: ${JSON.stringify(mock.baseURL)}, timeout: 120000 });
      await c.generation.create({ model: "qwen-plus", messages: [{ role: "user", content: "hi" }] });
      await c.chat.completions.create({ model: "qwen-plus", messages: [{ role: "user", content: "hi" }] });
      console.log("done");`;
    const started = Date.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0);
    assert.equal(out.trim(), "done");
    // Far below the 120 s timeout: neither the call's timer nor an idle keep-alive socket waits.
    assert.ok(Date.now() - started < 60_000);
  });

  test("the fetch option replaces the global fetch", async () => {
    const seen: string[] = [];
    const c = client({
      fetch: (url, init) => {
        seen.push(url);
        return fetch(url, init);
      },
    });
    await c.generation.create({ model: "qwen-plus", messages: hi });
    assert.deepEqual(seen, [mock.baseURL + "/services/aigc/text-generation/generation"]);
  });
});
