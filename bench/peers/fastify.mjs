// Peer: Fastify 5, in-memory jobs, with JSON Schemas on the request body and on every response
// (Fastify compiles them into ajv validators and fast-json-stringify serialisers): what a
// performance-minded user would pick instead of this project.
import Fastify from "fastify";
import { MemoryJobs } from "./jobs.mjs";

const problem = { type: "object", properties: { type: { type: "string" }, title: { type: "string" }, status: { type: "integer" }, detail: { type: "string" } }, required: ["title"] };
const jobRequest = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 64 },
    priority: { type: "integer", minimum: 0, maximum: 9 },
    tags: { type: "array", maxItems: 8, items: { type: "string" } },
    input: { type: "object" },
    maxAttempts: { type: "integer", minimum: 1, maximum: 20 },
    callbackUrl: { type: "string", maxLength: 2048, pattern: "^https?://" },
  },
};
const job = {
  type: "object",
  required: ["id", "href", "status", "priority", "tags", "attempts", "maxAttempts", "start", "end"],
  properties: {
    id: { type: "string", minLength: 1, maxLength: 64 },
    href: { type: "string" },
    status: { enum: ["IN PROGRESS", "CANCELLED", "FAILED", "SUCCESS"] },
    name: { type: "string" },
    priority: { type: "integer" },
    tags: { type: "array", items: { type: "string" } },
    input: { type: "object", additionalProperties: true },
    attempts: { type: "integer" },
    maxAttempts: { type: "integer" },
    start: { type: "string", format: "date-time" },
    end: { type: "string" },
    progress: { type: "integer" },
    result: {},
    error: { type: "object", additionalProperties: true },
  },
};
const jobRef = { type: "object", required: ["id", "href"], properties: { id: { type: "string" }, href: { type: "string" } } };

const app = Fastify({ logger: false });
const jobs = new MemoryJobs();

app.get("/resources", { schema: { querystring: { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 100, default: 20 } } }, response: { 200: { type: "object", properties: { tasks: { type: "array", items: jobRef } } } } } }, async (req) => jobs.list(req.query.limit));
app.post("/resources", { schema: { body: { anyOf: [jobRequest, { type: "null" }] }, response: { 202: jobRef } } }, async (req, reply) => {
  const j = jobs.create(req.body);
  reply.code(202).header("Location", j.href).header("Retry-After", "1");
  return { id: j.id, href: j.href };
});
app.get("/resources/:id", { schema: { params: { type: "object", properties: { id: { type: "string", minLength: 1, maxLength: 64 } } }, response: { 200: job, 303: job, 500: job, 404: problem } } }, async (req, reply) => {
  const [status, headers, body] = jobs.poll(req.params.id);
  reply.code(status).headers(headers);
  return body;
});
app.delete("/resources/:id", { schema: { response: { 200: job, 404: problem, 409: problem } } }, async (req, reply) => {
  const [status, body] = jobs.cancel(req.params.id);
  reply.code(status);
  return body;
});
app.put("/tasks/:id", { schema: { response: { 200: { type: "object", properties: { status: { type: "string" } } }, 404: problem, 409: problem } } }, async (req, reply) => {
  const [status, body] = jobs.update(req.params.id, req.body);
  reply.code(status);
  return body;
});

await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });
console.log(JSON.stringify({ url: `http://127.0.0.1:${app.server.address().port}` }));
