// `multipart/form-data` on node:http (and Fastify), read with busboy as it streams: fields
// into memory within `bodyLimit`, each file into a temporary file within `fileLimit`, handed
// to the handler as a Web `File` backed by that file (`fs.openAsBlob`), so that a large upload
// is never held in memory. The temporary files are removed once the answer is sent.
import { createWriteStream, openAsBlob, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import busboy from "busboy";
import { addField, type FormFields } from "../forms.js";
import { MALFORMED, TOO_LARGE, type RawBody } from "../request-body.js";
import type { MultipartReader } from "../router.js";
import type { NodeContext } from "./node.js";

interface Stored {
  name: string;
  filename: string;
  type: string;
  file: string;
}

/** Files, fields and parts a form may have at most (each of them a way to spend the server's memory or disk). */
const MAX_FILES = 64;
const MAX_FIELDS = 1000;

export const streamMultipart: MultipartReader<NodeContext> = (ctx, limits) => {
  const { req, res } = ctx;
  return new Promise<RawBody>((resolve) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { fileSize: limits.file, files: MAX_FILES, fields: MAX_FIELDS, fieldSize: limits.fields } });
    } catch {
      resolve(MALFORMED); // no boundary, or not multipart at all
      return;
    }
    const fields: FormFields = {};
    const stored: Stored[] = [];
    const writes: Promise<void>[] = [];
    const open: WriteStream[] = [];
    let dir: Promise<string> | undefined;
    let fieldBytes = 0;
    let outcome: RawBody | undefined;
    /** The one outcome: the form, or why there is none (then nothing more is read or written). */
    const finish = (result: RawBody) => {
      if (outcome) return;
      outcome = result;
      if (!(typeof result === "object" && "parsed" in result)) {
        req.unpipe(bb);
        for (const out of open) out.destroy();
      }
      resolve(result);
    };
    // Whatever was stored goes once the exchange is over, answered or not.
    res.once("close", () => {
      if (dir) void dir.then((d) => rm(d, { recursive: true, force: true }));
    });
    bb.on("field", (name, value, info) => {
      fieldBytes += value.length + name.length;
      if (info.valueTruncated || fieldBytes > limits.fields) return finish(TOO_LARGE);
      addField(fields, name, value);
    });
    bb.on("file", (name, stream, info) => {
      dir ??= mkdtemp(path.join(tmpdir(), "ramlgen-upload-"));
      const entry: Stored = { name, filename: info.filename ?? name, type: info.mimeType || "application/octet-stream", file: "" };
      const n = stored.push(entry);
      stream.once("limit", () => finish(TOO_LARGE));
      const written = dir.then(
        (d) =>
          new Promise<void>((done, failed) => {
            entry.file = path.join(d, String(n));
            const out = createWriteStream(entry.file);
            open.push(out);
            stream.pipe(out).once("finish", done).once("error", failed);
            stream.once("error", failed);
          }),
      );
      // A write that fails (a full disk, say) ends the form; its promise never rejects unheard.
      writes.push(written.catch(() => finish(MALFORMED)));
    });
    bb.on("filesLimit", () => finish(TOO_LARGE));
    bb.on("fieldsLimit", () => finish(TOO_LARGE));
    bb.on("partsLimit", () => finish(TOO_LARGE));
    bb.once("error", () => finish(MALFORMED));
    bb.once("close", () => {
      if (outcome) return;
      Promise.all(writes)
        .then(async () => {
          if (outcome) return;
          for (const s of stored) addField(fields, s.name, new File([await openAsBlob(s.file, { type: s.type })], s.filename, { type: s.type }));
          finish({ parsed: fields });
        })
        .catch(() => finish(MALFORMED));
    });
    req.pipe(bb);
  });
};
