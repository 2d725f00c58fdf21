// Peer: plain node:http with the same routes and job semantics, no framework, no validation:
// the floor.
import { createServer } from "node:http";
import { MemoryJobs } from "./jobs.mjs";

const jobs = new MemoryJobs();

function send(res, status, body, headers = {}) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(payload) });
  res.end(payload);
}

function readJson(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      try {
        resolve(text ? JSON.parse(text) : undefined);
      } catch {
        resolve(Symbol.for("invalid"));
      }
    });
  });
}

const server = createServer(async (req, res) => {
  const [path] = req.url.split("?");
  const parts = path.split("/");
  if (path === "/resources" && req.method === "POST") {
    const body = await readJson(req);
    if (body === Symbol.for("invalid")) return send(res, 400, { title: "Bad Request", status: 400 });
    const job = jobs.create(body);
    return send(res, 202, { id: job.id, href: job.href }, { Location: job.href, "Retry-After": "1" });
  }
  if (path === "/resources" && req.method === "GET") return send(res, 200, jobs.list());
  if (parts[1] === "resources" && parts.length === 3) {
    if (req.method === "GET") {
      const [status, headers, body] = jobs.poll(parts[2]);
      return send(res, status, body, headers);
    }
    if (req.method === "DELETE") {
      const [status, body] = jobs.cancel(parts[2]);
      return send(res, status, body);
    }
  }
  if (parts[1] === "tasks" && parts.length === 3 && req.method === "PUT") {
    const [status, body] = jobs.update(parts[2], await readJson(req));
    return send(res, status, body);
  }
  send(res, 404, { title: "Not Found", status: 404 });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
