// Opaque pagination cursors: the position (seq) of the last job of a page.
import { BadCursorError } from "./store.js";

export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString("base64url");
}

export function decodeCursor(cursor: string): number {
  const m = /^s(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("latin1"));
  if (!m) throw new BadCursorError("cursor is not valid");
  return Number(m[1]);
}
