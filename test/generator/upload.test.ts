// Large multipart uploads (30 and 90 MB) on node:http: the file streams to a temporary file and reaches the
// handler as a File it can read as a stream, so the server's memory does not grow by the size
// of the upload (its RSS is sampled every 5 ms while the request runs).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let child: ChildProcess;
let base: string;

beforeAll(async () => {
  child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", path.resolve("test/helpers/upload-server.ts")], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on("data", (c: Buffer) => {
      const m = /listening (\d+)/.exec(c.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`upload server exited with ${code}`)));
  });
  base = `http://127.0.0.1:${port}`;
}, 30_000);
afterAll(() => void child?.kill());

const uploads = () => readdirSync(tmpdir()).filter((f) => f.startsWith("ramlgen-upload-"));

/** Uploads `size` bytes (with a small avatar) and returns what the server said and how far its RSS rose above idle. */
async function upload(bytes: Buffer): Promise<{ status: number; files: { size: number; sha256: string }[]; grewMb: number }> {
  const { rss: idle } = (await (await fetch(`${base}/__rss`)).json()) as { rss: number };
  const form = new FormData();
  form.append("name", "big");
  form.append("avatar", new File([bytes.subarray(0, 1000)], "a.png", { type: "image/png" }));
  form.append("attachments", new File([bytes], "big.bin", { type: "application/octet-stream" }));
  const r = await fetch(`${base}/api/v2/profiles`, { method: "POST", body: form });
  const body = (await r.json()) as { files: { size: number; sha256: string }[] };
  const { peak } = (await (await fetch(`${base}/__rss`)).json()) as { peak: number };
  return { status: r.status, files: body.files, grewMb: (peak - idle) / 1024 / 1024 };
}

describe("a large upload", () => {
  it("streams through without the server holding it in memory, and leaves no temporary file", async () => {
    const before = uploads();
    // A small upload first: what the first request loads (modules, the parser's code) is not the upload's.
    await upload(randomBytes(100_000));
    const small = await upload(randomBytes(30 * 1024 * 1024));
    const bytes = randomBytes(90 * 1024 * 1024);
    const big = await upload(bytes);
    expect(big.status).toBe(200);
    expect(big.files[1]).toMatchObject({ size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
    console.log(`server RSS above idle at its peak: 30 MB upload +${small.grewMb.toFixed(1)} MB, 90 MB upload +${big.grewMb.toFixed(1)} MB`);
    // What the server holds does not grow with the upload (the rise is buffers the collector has
    // not taken back yet, about the same for any size): 60 MB more sent, far less than that more held.
    expect(big.grewMb - small.grewMb).toBeLessThan(15);
    expect(big.grewMb).toBeLessThan(45);
    expect(uploads().filter((f) => !before.includes(f))).toEqual([]);
  }, 60_000);
});
