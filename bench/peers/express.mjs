// Peer: a plain Express 5 app, express.json(), in-memory jobs, no validation.
// With OPENAPI=1, express-openapi-validator checks requests against bench/peers/openapi.json
// (the best-known runtime-validating peer).
import express from "express";
import { fileURLToPath } from "node:url";
import { MemoryJobs } from "./jobs.mjs";

export async function createApp() {
  const app = express();
  app.disable("x-powered-by");
  app.use(express.json());
  if (process.env.OPENAPI === "1") {
    const { middleware } = await import("express-openapi-validator");
    app.use(middleware({ apiSpec: fileURLToPath(new URL("./openapi.json", import.meta.url)), validateRequests: true, validateResponses: false }));
  }
  const jobs = new MemoryJobs();
  app.get("/resources", (req, res) => res.json(jobs.list(Number(req.query.limit ?? 20))));
  app.post("/resources", (req, res) => {
    const job = jobs.create(req.body);
    res.status(202).set({ Location: job.href, "Retry-After": "1" }).json({ id: job.id, href: job.href });
  });
  app.get("/resources/:id", (req, res) => {
    const [status, headers, body] = jobs.poll(req.params.id);
    res.status(status).set(headers).json(body);
  });
  app.delete("/resources/:id", (req, res) => {
    const [status, body] = jobs.cancel(req.params.id);
    res.status(status).json(body);
  });
  app.put("/tasks/:id", (req, res) => {
    const [status, body] = jobs.update(req.params.id, req.body);
    res.status(status).json(body);
  });
  app.use((err, _req, res, _next) => res.status(err.status ?? 500).json({ title: err.message, status: err.status ?? 500 }));
  return app;
}

const app = await createApp();
const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }));
});
