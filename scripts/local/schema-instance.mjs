// A value that conforms to a JSON Schema: what the emulator answers in JSON mode and as tool-call
// arguments. It covers the subset OpenAI's structured outputs allow (type and type lists, properties,
// required, additionalProperties, items / prefixItems, enum, const, anyOf / oneOf / allOf,
// $ref into $defs, length and range bounds) and a few string formats. `text` fills free strings,
// so an answer still echoes the prompt the way the emulator's plain answers do.

const FORMATS = {
  "date-time": "2025-01-01T00:00:00Z", date: "2025-01-01", time: "00:00:00Z", email: "user@example.com",
  uri: "https://example.com/", uuid: "00000000-0000-4000-8000-000000000000", hostname: "example.com",
  ipv4: "192.0.2.1", ipv6: "2001:db8::1", duration: "P1D",
};

function resolve(ref, root) {
  if (ref === "#") return root;
  return ref.replace(/^#\//, "").split("/").reduce((node, key) => node?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], root);
}

function stringFor(schema, text) {
  if (schema.format && FORMATS[schema.format]) return FORMATS[schema.format];
  let value = text || "emulated";
  if (Number.isInteger(schema.maxLength)) value = value.slice(0, schema.maxLength);
  if (Number.isInteger(schema.minLength)) value = value.padEnd(schema.minLength, "x");
  return value;
}

function numberFor(schema, integer) {
  const low = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : undefined);
  const high = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : undefined);
  let value = low ?? (high !== undefined ? Math.min(high, 1) : 1);
  if (integer) value = Math.ceil(value);
  if (schema.multipleOf) value = Math.ceil(value / schema.multipleOf) * schema.multipleOf;
  return value;
}

export function schemaInstance(schema, { root = schema, text = "", depth = 0 } = {}) {
  if (schema === true || schema === undefined || schema === null) return text || "emulated";
  if (typeof schema !== "object" || depth > 24) return null;
  const next = (sub) => schemaInstance(sub, { root, text, depth: depth + 1 });
  if (typeof schema.$ref === "string") return next({ ...resolve(schema.$ref, root), ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$ref")) });
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (Array.isArray(schema.allOf) && schema.allOf.length) {
    const { allOf, ...rest } = schema;
    return next(allOf.reduce((merged, part) => ({ ...merged, ...part, properties: { ...merged.properties, ...part?.properties },
      required: [...(merged.required ?? []), ...(part?.required ?? [])] }), rest));
  }
  const variants = schema.anyOf || schema.oneOf;
  if (Array.isArray(variants) && variants.length) {
    // The first alternative that is not null: a nullable field gets a real value.
    return next(variants.find((v) => v && v.type !== "null") ?? variants[0]);
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const type = types.find((t) => t !== "null") ?? types[0] ?? (schema.properties ? "object" : schema.items ? "array" : "string");
  switch (type) {
    case "object": {
      const out = {};
      for (const [name, sub] of Object.entries(schema.properties ?? {})) out[name] = next(sub);
      for (const name of schema.required ?? []) if (!(name in out)) out[name] = next(schema.additionalProperties ?? {});
      return out;
    }
    case "array": {
      const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems.map(next) : [];
      const count = Math.max(schema.minItems ?? 1, prefix.length, 1);
      const limit = schema.maxItems ?? count;
      const items = [...prefix];
      while (items.length < Math.min(count, limit)) items.push(next(schema.items ?? {}));
      return items;
    }
    case "integer": return numberFor(schema, true);
    case "number": return numberFor(schema, false);
    case "boolean": return true;
    case "null": return null;
    default: return stringFor(schema, text);
  }
}
