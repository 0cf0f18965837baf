// A small JSON Schema validator for the subset the Workers AI model contracts use
// (src/gateway/model_contracts.json): type, enum, minimum/maximum, minLength/maxLength,
// minItems/maxItems, pattern, properties, required, minProperties/maxProperties, additionalProperties, items,
// oneOf, anyOf, and {"$ref": "<name>"} pointing into the file's `defs`.
//
// Output schemas are checked with `loose` (oneOf read as anyOf).
//
// validate() returns a list of problems, each naming the field by its JSON pointer
// ("/messages/2/content"), the way Workers AI's error 5006 does.

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array || value instanceof ArrayBuffer || value instanceof ReadableStream) return "binary";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(expected, actual, schema) {
  if (expected === actual) return true;
  if (expected === "number" && actual === "integer") return true;
  // A "binary string" (format: binary) may be bytes or a stream as well as a string.
  if (expected === "string" && actual === "binary" && schema.format === "binary") return true;
  // Bytes and streams are JS objects: a page's `{type: object}` body (nova-3, flux-2) takes them.
  if (expected === "object" && actual === "binary") return true;
  return false;
}

function requiredOf(schema, defs) {
  const resolved = resolve(schema, defs);
  return Array.isArray(resolved.required) ? resolved.required : [];
}

function resolve(schema, defs) {
  let s = schema;
  for (let depth = 0; s && s.$ref; depth++) {
    if (depth > 20 || !(s.$ref in defs)) throw new Error(`contract: unknown $ref ${s.$ref}`);
    s = defs[s.$ref];
  }
  return s || {};
}

export function validate(schema, value, defs = {}, path = "", loose = false) {
  const s = resolve(schema, defs);
  const at = path || "/";
  const problems = [];
  const actual = typeOf(value);

  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => typeMatches(t, actual, s))) {
      return [`Type mismatch of '${at}', '${actual}' not in '${types.join("','")}'`];
    }
  }
  if (s.enum && !s.enum.some((v) => v === value)) {
    problems.push(`'${at}' must be one of ${s.enum.map((v) => JSON.stringify(v)).join(", ")}, not ${JSON.stringify(value)}`);
  }
  if (typeof value === "number") {
    if (s.minimum !== undefined && value < s.minimum) problems.push(`'${at}' must be >= ${s.minimum}, not ${value}`);
    if (s.maximum !== undefined && value > s.maximum) problems.push(`'${at}' must be <= ${s.maximum}, not ${value}`);
  }
  if (typeof value === "string") {
    if (s.minLength !== undefined && value.length < s.minLength) problems.push(`'${at}' must NOT have fewer than ${s.minLength} characters`);
    if (s.maxLength !== undefined && value.length > s.maxLength) problems.push(`'${at}' must NOT have more than ${s.maxLength} characters`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(value)) problems.push(`'${at}' must match pattern "${s.pattern}"`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) problems.push(`'${at}' must NOT have fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) problems.push(`'${at}' must NOT have more than ${s.maxItems} items`);
    if (s.items && typeof s.items === "object") {
      value.forEach((item, i) => problems.push(...validate(s.items, item, defs, `${path}/${i}`, loose)));
    }
  }
  if (actual === "object") {
    const props = s.properties || {};
    for (const name of s.required || []) {
      if (value[name] === undefined) problems.push(`required properties at '${at}' are '${s.required.join("','")}' ('${name}' is missing)`);
    }
    const count = Object.values(value).filter((item) => item !== undefined).length;
    if (count < (s.minProperties ?? 0)) problems.push(`'${at}' must NOT have fewer than ${s.minProperties} properties`);
    if (s.maxProperties !== undefined && count > s.maxProperties) problems.push(`'${at}' must NOT have more than ${s.maxProperties} properties`);
    for (const [name, item] of Object.entries(value)) {
      if (item === undefined) continue;
      if (name in props) {
        problems.push(...validate(props[name], item, defs, `${path}/${name}`, loose));
      } else if (s.additionalProperties === false) {
        problems.push(`'${path}/${name}' is not allowed: additional properties are not accepted at '${at}'`);
      } else if (s.additionalProperties && typeof s.additionalProperties === "object") {
        problems.push(...validate(s.additionalProperties, item, defs, `${path}/${name}`, loose));
      }
    }
  }
  if (s.anyOf) {
    const results = s.anyOf.map((v) => validate(v, value, defs, path, loose));
    if (!results.some((r) => r.length === 0)) problems.push(...best(s.anyOf, results, value, defs, at, "anyOf"));
  }
  if (s.oneOf) {
    const results = s.oneOf.map((v) => validate(v, value, defs, path, loose));
    const matches = results.filter((r) => r.length === 0).length;
    if (matches === 0) problems.push(...best(s.oneOf, results, value, defs, at, "oneOf"));
    else if (matches > 1 && !loose) problems.push(`oneOf at '${at}' not met, ${matches} matches`);
  }
  return problems;
}

// The problems of the variant the value was most likely meant for: the one whose
// required properties are all present (the discriminator), else the one with fewest problems.
function best(variants, results, value, defs, at, keyword) {
  let pick = -1;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const candidates = variants
      .map((v, i) => [i, requiredOf(v, defs)])
      .filter(([, req]) => req.length && req.every((name) => value[name] !== undefined));
    if (candidates.length) pick = candidates.sort((a, b) => results[a[0]].length - results[b[0]].length)[0][0];
  }
  if (pick < 0) pick = results.map((r, i) => [r.length, i]).sort((a, b) => a[0] - b[0])[0][1];
  return [`${keyword} at '${at}' not met, 0 matches: ${results[pick].join("; ")}`];
}

// The contract of `model`, or undefined when the contracts do not list it.
export function contractOf(contracts, model) {
  return contracts?.models?.[model];
}

export function checkInput(contracts, model, inputs) {
  const contract = contractOf(contracts, model);
  if (!contract) return [];
  return validate(contract.input, inputs, contracts.defs);
}

export function checkOutput(contracts, model, output) {
  const contract = contractOf(contracts, model);
  if (!contract) return [];
  // Output variants are told apart by the caller, not by oneOf (several published output
  // variants have no required property), so oneOf is read as anyOf here.
  return validate(contract.output, output, contracts.defs, "", true);
}
