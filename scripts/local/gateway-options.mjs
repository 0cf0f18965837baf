// The AI binding's `options.gateway` (routing a call through an AI Gateway), checked the way the
// binding takes it: `id` names the gateway; `skipCache`, `cacheTtl` (seconds), `cacheKey`,
// `collectLog`, `eventId`, `requestTimeoutMs` tune it; `metadata` is up to 5 entries of
// string, number, boolean or null values (Workers AI docs: AI Gateway, "Workers AI binding").
// A malformed option is an error thrown from run(), as the binding throws for bad input.

const FIELDS = {
  id: (v) => typeof v === "string" && v.length > 0,
  skipCache: (v) => typeof v === "boolean",
  cacheTtl: (v) => Number.isInteger(v) && v >= 0,
  cacheKey: (v) => typeof v === "string",
  collectLog: (v) => typeof v === "boolean",
  eventId: (v) => typeof v === "string",
  requestTimeoutMs: (v) => Number.isInteger(v) && v > 0,
  metadata: (v) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length <= MAX_METADATA_ENTRIES
    && Object.values(v).every((item) => item === null || ["string", "number", "boolean"].includes(typeof item)),
};
const MAX_METADATA_ENTRIES = 5;

export function checkGatewayOptions(options) {
  const gateway = options?.gateway;
  if (gateway === undefined) return;
  const problems = [];
  if (gateway === null || typeof gateway !== "object" || Array.isArray(gateway)) problems.push("`gateway` must be an object");
  else {
    if (!("id" in gateway)) problems.push("`gateway.id` is required");
    for (const [key, value] of Object.entries(gateway)) {
      const valid = FIELDS[key];
      if (!valid) problems.push(`\`gateway.${key}\` is not a gateway option`);
      else if (!valid(value)) problems.push(`\`gateway.${key}\` is malformed: ${JSON.stringify(value)}`);
    }
  }
  if (problems.length) throw new Error(`AiError: invalid gateway options: ${problems.join("; ")}`);
}
