// Content negotiation: which declared media type the client's Accept admits or prefers.
import Negotiator from "negotiator";
import type { RequestHeaders } from "./types.js";

/** Whether the request's Accept admits one of these media types (no Accept admits all). */
export function acceptable(headers: RequestHeaders, types: string[]): boolean {
  const accept = headers["accept"];
  if (!accept || accept === "*/*") return true;
  return new Negotiator({ headers: { accept } }).mediaType(types) !== undefined;
}

/** The declared media type the request prefers, if it states a preference. */
export function preferred(headers: RequestHeaders, types: string[]): string | undefined {
  const accept = headers["accept"];
  if (!accept || accept === "*/*") return undefined;
  return new Negotiator({ headers: { accept } }).mediaType(types);
}

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
