// Clef's decisions, as the emulator answers them: every question id of the input answered in its
// type's shape (cloudflare-docs workers-ai-models/clef.json, output), deterministically from the
// question, so tests can state what comes back. Input checks are the contract's (contract-validate).

function share(text, salt) {
  // A stable number in (0, 1) from the text: the same question always gets the same answer.
  let h = 2166136261 ^ salt;
  for (const ch of String(text)) h = Math.imul(h ^ ch.codePointAt(0), 16777619);
  return ((h >>> 0) % 9973 + 1) / 9975;
}

function answer(id, question) {
  const seed = JSON.stringify(question.instructions ?? "") + id;
  if (question.type === "noul") return { type: "noul", noul: Number(share(seed, 1).toFixed(4)) };
  const options = question.type === "choice" ? Object.keys(question.criteria) : question.criteria.map((_, i) => String(i + 1));
  const weights = options.map((option, i) => share(seed + option, i + 2));
  const total = weights.reduce((a, b) => a + b, 0);
  const probabilities = Object.fromEntries(options.map((option, i) => [option, Number((weights[i] / total).toFixed(4))]));
  const best = options.reduce((a, b) => (probabilities[b] > probabilities[a] ? b : a));
  const confidence = probabilities[best];
  if (question.type === "choice") return { type: "choice", choice: best, probabilities, confidence };
  const score = options.reduce((sum, option) => sum + Number(option) * probabilities[option], 0);
  const legend = Object.fromEntries(question.criteria.map((level, i) => [String(i + 1), level]));
  return { type: "score", score: Number(score.toFixed(4)), legend, probabilities, confidence };
}

export function decision(model, inputs) {
  const answers = Object.fromEntries(Object.entries(inputs.questions).map(([id, q]) => [id, answer(id, q)]));
  const text = JSON.stringify({ state: inputs.state, questions: inputs.questions });
  const media = ["images", "audio", "videos"].reduce((n, key) => n + (Array.isArray(inputs[key]) ? inputs[key].length : 0), 0);
  return {
    model: String(inputs.model).trim(),
    answers,
    usage: { input_tokens: Math.ceil(text.length / 4) + 258 * media, output_tokens: Object.keys(answers).length },
  };
}
