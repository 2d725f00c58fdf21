// Valid values for what a spec declares (parameters, bodies), from its examples or synthesised
// by the mock's machinery, for tests that must send requests the spec accepts.
import { firstValid, MockValues } from "../../generator/mock/mock-values.js";
import type { ApiModel, Body, Param } from "../../generator/model/model.js";
import type { ValidatorSet } from "../../generator/schema/validators.js";

export function specValues(model: ApiModel, validators: ValidatorSet) {
  const values = new MockValues(model);
  return {
    param(p: Param): unknown {
      const check = validators.exact(p.schema);
      const picked = firstValid(values.header(p, {}), (v) => (check(v) ? undefined : "invalid"));
      if ("error" in picked) throw new Error(`no valid value for ${p.name}`);
      return picked.value;
    },
    body(b: Body): unknown {
      const check = validators.exact(b.schema);
      const picked = firstValid(values.body(b, {}), (v) => (check(v) ? undefined : "invalid"));
      if ("error" in picked) throw new Error(`no valid ${b.mediaType} body`);
      return picked.value;
    },
  };
}
