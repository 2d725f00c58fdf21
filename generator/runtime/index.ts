// The router runtime that generated code imports: one module per concern (see each file), and
// one per host under hosts/. `ramlgen generate` copies this folder as it is into its output.
export type { BodyDef, CoreOptions, HandlerContext, HandlerResponse, Operation, RequestHeaders, ResponseDef, ResponseValidationFailure, RouteDef, SecurityDef, SecuritySchemeDef, ValidationErrorObject, Validator } from "./types.js";
export { HttpProblem, notImplemented, problem, PROBLEM_JSON, statusTitle, type FieldError, type ProblemDetails } from "./problems.js";
export { setHead, type HeadList } from "./response.js";
export { forbidden, Forbidden, type Auth, type AuthRequest, type Authenticator } from "./security.js";
export { buildCore, type Dispatch, type Host } from "./router.js";
export { nodeRouter, NodeContext, sendProblem, type Next, type RouterHandler, type RouterOptions } from "./hosts/node.js";
export { fetchRouter, FetchContext, type FetchHandler, type FetchOptions } from "./hosts/fetch.js";
export { fastifyPlugin, FastifyContext, type FastifyOptions, type FastifyPlugin } from "./hosts/fastify.js";
