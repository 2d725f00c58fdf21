import { randomBytes } from "node:crypto";

/** 128 random bits, base64url: 22 characters, unguessable and never sequential. */
export function newJobId(): string {
  return randomBytes(16).toString("base64url");
}
