// What the generated route table describes and what handlers see: plain data and types, the
// same on every host (node:http, Express, Connect, Fastify, Web `fetch`). Nothing here runs,
// and nothing here imports: every other module of the runtime builds on these.

/** A validator compiled ahead of time by ajv (standalone code). */
export interface Validator {
  (data: unknown): boolean;
  errors?: ValidationErrorObject[] | null | undefined;
}

export interface ValidationErrorObject {
  instancePath: string;
  /** Where in the schema it failed (`#/anyOf/1/properties/x/type`): tells a union's members apart. */
  schemaPath?: string | undefined;
  keyword: string;
  message?: string | undefined;
  params: Record<string, unknown>;
}

export interface BodyDef {
  /** `json`: parsed with JSON.parse; `text`: a string; `raw`: bytes; `form`: fields and files. */
  parse: "json" | "text" | "raw" | "form";
  validate?: Validator | undefined;
  /** A serialiser generated from the response's schema (JSON.stringify when absent). */
  serialize?: ((value: unknown) => string) | undefined;
  /** Form bodies: their files and numbers (forms.ts). */
  form?: FormDef | undefined;
}

export interface ResponseDef {
  validateHeaders?: Validator | undefined;
  /** Declared media types, in spec order. */
  bodies: Record<string, BodyDef>;
}

export interface RouteDef {
  operation: string;
  method: string;
  /** Path template, RAML style, including the baseUri prefix: `/api/v1/things/{thing-id}`. */
  path: string;
  validateParams?: Validator | undefined;
  validateQuery?: Validator | undefined;
  /** Declared request headers, lower case. */
  headers: string[];
  validateHeaders?: Validator | undefined;
  /** Request bodies by media type; absent when the operation takes no body. */
  bodies?: Record<string, BodyDef> | undefined;
  /** Whether an absent body is acceptable (the body type admits nil). */
  bodyOptional: boolean;
  /**
   * Parameters declared as numbers, by location: their raw text must be a plain decimal
   * number (ajv's coercion alone would also take `0x10`, `Infinity` or ` 1`).
   */
  numeric?: { path?: string[]; query?: string[]; headers?: string[] } | undefined;
  /** Headers declared as arrays, lower case: their comma-separated list is split into its items. */
  listHeaders?: string[] | undefined;
  responses: Record<number, ResponseDef>;
  /**
   * The spec declares no responses for the operation: any status with any body is sent as
   * the handler gives it, unchecked (objects as JSON).
   */
  undeclaredResponses?: boolean | undefined;
  /** RAML `securedBy`: absent when the operation is not secured. */
  security?: SecurityDef | undefined;
}

export interface SecurityDef {
  /** Any one of these is enough. */
  alternatives: { scheme: string; scopes: string[] }[];
  /** A request no scheme accepts is served anyway, without `auth` (RAML `null`). */
  anonymous: boolean;
}

/** A security scheme of the spec, as the router needs it. */
export interface SecuritySchemeDef {
  type: string;
  /** The `WWW-Authenticate` challenge of a 401. */
  challenge: string;
}

/** Request headers as received, names in lower case (node:http's shape). */
export interface RequestHeaders {
  accept?: string | undefined;
  authorization?: string | undefined;
  "content-type"?: string | undefined;
  "content-length"?: string | undefined;
  cookie?: string | undefined;
  host?: string | undefined;
  origin?: string | undefined;
  prefer?: string | undefined;
  [name: string]: string | string[] | undefined;
}

/**
 * What a handler gets beside its typed request, on every host. Hosts add their own objects:
 * `NodeContext` has node:http's `req` and `res` (also under Express and Connect),
 * `FetchContext` the Web `request`, `FastifyContext` Fastify's `request` and `reply`.
 */
export interface HandlerContext {
  /** The operation being served (its name in the spec). */
  operation: string;
  readonly method: string;
  /** Path and query as received (under Express: below the mount path). */
  readonly url: string;
  readonly headers: RequestHeaders;
  /** The client's address, where the host knows it. */
  readonly remoteAddress: string | undefined;
  /** Aborted when the client goes away before its answer (a long wait can stop early). */
  readonly signal: AbortSignal;
}

export interface Operation<Req, Res, C extends HandlerContext = HandlerContext> {
  (request: Req, ctx: C): Res | Promise<Res>;
}

/** What a handler answers: one member of its operation's response union. */
export interface HandlerResponse {
  status: number;
  headers?: Record<string, unknown> | undefined;
  body?: unknown | undefined;
  contentType?: string | undefined;
}

export interface ResponseValidationFailure {
  operation: string;
  status: number;
  errors: { field: string; pointer: string; detail: string }[];
}

/**
 * The router's options on every host. `C` is the host's context: the callbacks that are told
 * about a request get it (node:http's own options give them `req` instead, as they always did).
 */
export interface CoreOptions<C extends HandlerContext = HandlerContext> {
  /** Largest accepted request body in bytes (default 1 MiB). Larger bodies get 413. */
  bodyLimit?: number | undefined;
  /**
   * Largest accepted file in a `multipart/form-data` body, in bytes (default 100 MiB; the
   * body's other fields count against `bodyLimit`). Larger files get 413. On node:http files
   * are streamed to temporary files, removed once the answer is sent.
   */
  fileLimit?: number | undefined;
  /** Deepest accepted JSON nesting in request bodies (default 64). Deeper bodies get 400. */
  maxJsonDepth?: number | undefined;
  /** Check every response against the spec (default: on unless NODE_ENV is "production"). */
  validateResponses?: boolean | undefined;
  /** Called when a handler's response violates the spec; it is answered with 500. Default: log to stderr. */
  onResponseValidationError?: ((failure: ResponseValidationFailure, ctx: C) => void) | undefined;
  /** Called when a handler throws; it is answered with 500. Default: log to stderr. */
  onError?: ((error: unknown, operation: string, ctx: C) => void) | undefined;
  /**
   * Turns an error a handler threw into a problem answer (e.g. an unavailable database into
   * 503); return undefined for a 500. HttpProblem errors are always answered as they are.
   */
  mapError?: ((error: unknown) => { problem: ProblemDetails; headers: Record<string, string> } | undefined) | undefined;
  /** One authenticator per security scheme of the spec (required when the spec has any). */
  security?: Record<string, (request: never) => unknown> | undefined;
  /** Headers on every answer the router writes (security headers, say). */
  headers?: Record<string, string> | undefined;
  /**
   * Adds headers of its own to every answer the router writes (a request id, say): called with
   * the answer's headers so far, a flat list (`name, value, name, value`), to which it adds
   * its own with `head.push(name, value)` (or `setHead(head, name, value)` to replace one).
   */
  addHeaders?: ((ctx: C, head: HeadList) => void) | undefined;
  /** Called when a request matches an operation, before anything else is done with it. */
  onRoute?: ((operation: string, ctx: C) => void) | undefined;
  /**
   * The path the routes are served under, instead of the spec's baseUri path: `""` when the
   * router is mounted below a prefix that the host strips (`app.use("/api", router)`), or
   * `"/v2"` to serve the spec's `/api/v1/books` as `/v2/books`.
   */
  basePath?: string | undefined;
}

/**
 * An answer's headers as a flat list, `name, value, name, value`, the form in which Node's
 * `writeHead` takes them. The router builds every answer's headers so, not as an object: an
 * object copied from the static headers and then given the answer's own cost 2-3 µs an answer
 * (V8 gives each added name a new hidden class, by a slow path), a list about 0.1 µs.
 */
export type HeadList = (string | number)[];

export interface ProblemDetails {
  type?: string | undefined;
  title: string;
  status: number;
  detail?: string | undefined;
  instance?: string | undefined;
  [extension: string]: unknown;
}

export interface FieldError {
  /** Where the offending value is: `body/name`, `query/limit`, `headers/idempotency-key`, `path/id`. */
  field: string;
  /** JSON pointer into that location. */
  pointer: string;
  detail: string;
}

/** A file field's facets (RAML `fileTypes`, `minLength`, `maxLength` in bytes). */
export interface FileFacets {
  /** An array of files: one file is given to the handler as an array of one. */
  many?: boolean | undefined;
  types?: string[] | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
}

/** What the router needs to know of a form beside its validator. */
export interface FormDef {
  files?: Record<string, FileFacets> | undefined;
  /** Fields declared as numbers: their text must be a plain decimal. */
  numbers?: string[] | undefined;
}
