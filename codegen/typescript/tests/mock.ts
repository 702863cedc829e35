/** Starts the Python MockServer (the one users get) as a subprocess, scripted over stdio. */

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from generated/typescript/dist/test/). */
export const REPO = resolve(HERE, "../../../..");
const SCRIPT = join(REPO, "generated/typescript/test/mock_control.py");

export function python(): string {
  return process.env["PYTHON"] ?? join(REPO, ".venv/bin/python");
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  json: any;
}

export class Mock {
  readonly baseURL: string;
  readonly compatibleBaseURL: string;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #replies: Array<(line: string) => void>;

  private constructor(child: ChildProcessWithoutNullStreams, first: any, replies: Array<(line: string) => void>) {
    this.#child = child;
    this.baseURL = first.base_url;
    this.compatibleBaseURL = first.compatible_base_url;
    this.#replies = replies;
  }

  static async start(apiKey = "sk-test"): Promise<Mock> {
    const child = spawn(python(), [SCRIPT, apiKey], { stdio: ["pipe", "pipe", "pipe"] });
    const replies: Array<(line: string) => void> = [];
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string>((ok, fail) => {
      child.once("exit", (code) => fail(new Error(`mock server exited (${code}): ${stderr}`)));
      lines.once("line", ok);
    });
    lines.on("line", (line) => replies.shift()?.(line));
    return new Mock(child, JSON.parse(first), replies);
  }

  async command(op: string, args: Record<string, unknown> = {}): Promise<any> {
    const reply = new Promise<string>((ok) => this.#replies.push(ok));
    this.#child.stdin.write(JSON.stringify({ op, ...args }) + "\n");
    const data = JSON.parse(await reply);
    if (data && typeof data === "object" && "error" in data && !Array.isArray(data)) throw new Error(data.error);
    return data;
  }

  enqueue(args: Record<string, unknown>): Promise<void> {
    return this.command("enqueue", args);
  }

  requests(): Promise<RecordedRequest[]> {
    return this.command("requests");
  }

  reset(): Promise<void> {
    return this.command("reset");
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((ok) => this.#child.once("exit", () => ok()));
    this.#child.stdin.end();
    await exited;
  }
}
