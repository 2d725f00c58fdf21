// Media types by how a body of theirs is read: JSON, text, a form, or bytes.

/** Media types whose bodies are parsed as JSON and validated as such. */
export function isJsonMedia(mediaType: string): boolean {
  return /^application\/(?:[\w.+-]+\+)?json$/i.test(mediaType);
}

/** Text media types: the body is a string, validated against the schema. */
export function isTextMedia(mediaType: string): boolean {
  return /^text\//i.test(mediaType);
}

export function mediaSlug(mediaType: string): string {
  return mediaType.toLowerCase().replace(/[^a-z0-9]+/g, "_");
}

/** Form bodies: their fields are text on the wire, their files files. */
export function isFormMedia(mediaType: string): boolean {
  return /^(?:application\/x-www-form-urlencoded|multipart\/form-data)$/i.test(mediaType);
}
