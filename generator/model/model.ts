import type { JsonSchema } from "./schema.js";
// The intermediate model: a plain description of the API, independent of RAML's
// parser objects, so that emitters and tests never touch raml-1-parser.

export interface SourceRef {
  /** Spec file, relative to the root spec's folder. */
  path: string;
  line?: number | undefined;
  column?: number | undefined;
}

export interface Example {
  name?: string | undefined;
  value: unknown;
  /** RAML `strict: false` examples are documentation only and are not validated. */
  strict: boolean;
  where: string;
}

export interface NamedType {
  /** RAML name, library types qualified: `common.Money`. */
  name: string;
  /** TypeScript identifier for the type. */
  tsName: string;
  schema: JsonSchema;
  description?: string | undefined;
  examples: Example[];
  source?: string | undefined;
}

/** A parameter declared by a pattern (`/^author\[[a-z]+\]$/: string`): the pattern, else undefined. */
export const namePattern = (name: string): string | undefined => (name.length > 2 && name.startsWith("/") && name.endsWith("/") ? name.slice(1, -1) : undefined);

export interface Param {
  /** Name as written in the spec (wire name); `/regex/` for parameters declared by a pattern. */
  name: string;
  required: boolean;
  schema: JsonSchema;
  default?: unknown;
  description?: string | undefined;
  examples: Example[];
  /** A property of the operation's queryString type (checked with it, as part of the whole query). */
  fromQueryString?: boolean | undefined;
}

export interface Body {
  mediaType: string;
  schema: JsonSchema;
  /** Named type the body refers to, when it is a plain reference. */
  typeName?: string | undefined;
  examples: Example[];
}

export interface Response {
  status: number;
  description?: string | undefined;
  headers: Param[];
  bodies: Body[];
}

/** A RAML security scheme, as declared under `securitySchemes`. */
export interface SecurityScheme {
  name: string;
  /** `OAuth 2.0`, `OAuth 1.0`, `Basic Authentication`, `Digest Authentication`, `Pass Through` or `x-…`. */
  type: string;
  description?: string | undefined;
  /** `describedBy`: what a request carries and what may be answered. */
  headers: Param[];
  query: Param[];
  responses: Response[];
  /** `settings` as declared (for OAuth 2.0, `scopes` are the scopes it knows). */
  settings: Record<string, unknown>;
  /** The `WWW-Authenticate` challenge a 401 carries for this scheme. */
  challenge: string;
}

/** One way of satisfying an operation's security: a scheme and the scopes it must grant. */
export interface SecurityRequirement {
  scheme: string;
  scopes: string[];
}

export interface Security {
  /** Any one of these is enough (RAML `securedBy` lists alternatives). */
  alternatives: SecurityRequirement[];
  /** `null` among them: a request without credentials is served too. */
  anonymous: boolean;
}

export interface Operation {
  /** Handler name, a valid TypeScript identifier. */
  name: string;
  method: string;
  /** Full path template including the baseUri path prefix, RAML style: `/api/v1/things/{id}`. */
  path: string;
  /** Path template relative to the API root (without the baseUri prefix). */
  resourcePath: string;
  displayName?: string | undefined;
  description?: string | undefined;
  uriParams: Param[];
  query: Param[];
  /** A queryString's type: the query as a whole is checked against it (its properties are among `query` too). */
  queryString?: JsonSchema | undefined;
  /** The queryString type's own examples (each a whole query). */
  queryStringExamples?: Example[] | undefined;
  headers: Param[];
  /** Request bodies by media type; empty when the operation takes no body. */
  bodies: Body[];
  responses: Response[];
  /** `securedBy`, resolved from the API, resource type, trait, resource and method levels; absent when unsecured. */
  security?: Security | undefined;
}

export interface ApiModel {
  title: string;
  version?: string | undefined;
  description?: string | undefined;
  baseUri?: string | undefined;
  /** Path prefix taken from baseUri (`/api/v1`), or "" */
  basePath: string;
  mediaTypes: string[];
  types: NamedType[];
  securitySchemes: SecurityScheme[];
  operations: Operation[];
}
