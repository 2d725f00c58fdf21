// The keys of a deployment, one per role (a client, c0, whose jobs it creates, polls and
// lists; a worker; an operator), written to a keys file for the service, and a plain HTTP
// request as each role makes it. Shared by bench:scale and bench:churn.
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { hashKey, newKey } from "../src/auth/keys.js";

export type Role = "client" | "worker" | "admin";
export type Request = (role: Role, method: string, p: string, body?: unknown, want?: number[], headers?: Record<string, string>) => Promise<{ status: number; body: any }>;

/** Writes the keys file into `dir`; `request` sends to `base` over `agent`, throwing on an unexpected status. */
export function roles(dir: string): { file: string; requester(base: URL, agent: http.Agent): Request } {
  const keys: Record<Role, string> = { client: newKey(), worker: newKey(), admin: newKey() };
  const file = path.join(dir, "api-keys");
  writeFileSync(file, `c0 client ${hashKey(keys.client)}\nbench-worker worker ${hashKey(keys.worker)}\nops admin ${hashKey(keys.admin)}\n`);
  const requester =
    (base: URL, agent: http.Agent): Request =>
    (role, method, p, body, want = [200], extra = {}) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent, host: base.hostname, port: base.port, path: p, method,
            headers: { authorization: `Bearer ${keys[role]}`, ...extra, ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}) },
          },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (text += c));
            res.on("end", () => {
              if (!want.includes(res.statusCode!)) return reject(new Error(`${method} ${p} answered ${res.statusCode}: ${text.slice(0, 300)}`));
              const json = /json/.test(String(res.headers["content-type"])) && text ? JSON.parse(text) : text;
              resolve({ status: res.statusCode!, body: json });
            });
          },
        );
        req.on("error", reject);
        req.end(data);
      });
    };
  return { file, requester };
}
