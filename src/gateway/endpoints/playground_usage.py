"""The playground's usage view: neurons per UTC day per key against the free 10 000, as an inline SVG chart.

Self-contained (its own HTML section and script, added to the page by playground.py) and
drawn from GET /v1/usage with the key pasted at the top of the page: an admin key
(ADMIN_KEYS) sees a stacked bar per key, any other key its own bars.
"""

USAGE_SECTION = """<section id="usage" aria-labelledby="usage-title"><h2 id="usage-title">Usage (neurons per day)</h2>
<form id="usage-form"><label for="usage-days">Days</label>
<select id="usage-days"><option>7</option><option selected>14</option><option>30</option></select>
<button id="usage-send" type="submit">Show usage</button></form>
<div id="usage-chart" role="img" aria-label="Neurons per day per key"></div>
<div id="usage-summary" class="note" role="status"></div><div id="usage-error" class="err" role="alert"></div></section>"""

USAGE_SCRIPT = r"""
(() => {
  const el = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#0a7d4f", "#2f5fb3", "#b35a00", "#8a3fb3", "#b3214a", "#4d6b00", "#00738a", "#6b4d00"];
  const node = (name, attrs, text) => {
    const n = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  };

  function draw(body) {
    const days = body.days, keys = body.keys, limit = body.allocation_neurons_per_day;
    const totals = days.map((d) => keys.reduce((sum, k) => sum + ((k.days[d] || {}).neurons || 0), 0));
    const top = Math.max(limit, ...totals) * 1.05;
    const W = 640, H = 240, left = 52, bottom = 34, plotH = H - bottom - 10, slot = (W - left - 10) / days.length;
    const y = (v) => 10 + plotH - (v / top) * plotH;
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", id: "usage-svg" });
    svg.append(node("title", {}, `Neurons per day, ${days[0]} to ${days[days.length - 1]}, against ${limit} free`));
    for (const tick of [0, limit / 2, limit]) {
      svg.append(node("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor" }, tick.toLocaleString("en")));
    }
    days.forEach((day, i) => {
      let base = 0;
      keys.forEach((key, k) => {
        const value = (key.days[day] || {}).neurons || 0;
        if (!value) return;
        // At least a pixel, so a small day is still seen against the 10 000 scale.
        const h = Math.max(1, (value / top) * plotH);
        const bar = node("rect", { x: left + i * slot + slot * 0.15, y: y(base) - h, width: slot * 0.7, height: h,
          fill: COLORS[k % COLORS.length], class: "usage-bar", "data-day": day, "data-key": key.key_id, "data-neurons": value });
        bar.append(node("title", {}, `${day} · ${key.label || key.key_id}: ${value.toFixed(1)} neurons`));
        svg.append(bar);
        base += value;
      });
      if (i % Math.ceil(days.length / 7) === 0) {
        svg.append(node("text", { x: left + i * slot + slot / 2, y: H - 14, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, day.slice(5)));
      }
    });
    svg.append(node("line", { x1: left, x2: W - 10, y1: y(limit), y2: y(limit), stroke: "#c22", "stroke-dasharray": "6 4", id: "usage-limit" }));
    svg.append(node("text", { x: W - 12, y: y(limit) - 5, "text-anchor": "end", "font-size": 11, fill: "#c22" }, `${limit.toLocaleString("en")} free / day`));
    svg.append(node("line", { x1: left, x2: W - 10, y1: y(0), y2: y(0), stroke: "currentColor" }));
    const chart = el("usage-chart");
    chart.replaceChildren(svg);
    const list = document.createElement("ul");
    list.className = "note";
    list.style.listStyle = "none";
    keys.forEach((key, k) => {
      const item = document.createElement("li"), swatch = node("svg", { width: 12, height: 12, "aria-hidden": "true" });
      swatch.append(node("rect", { width: 12, height: 12, fill: COLORS[k % COLORS.length] }));
      item.append(swatch, ` ${key.label || key.key_id} · ${key.key_id}` +
        (key.budget_neurons_per_day != null ? ` (budget ${key.budget_neurons_per_day} neurons/day)` : ""));
      list.append(item);
    });
    chart.append(list);
    const today = totals[totals.length - 1];
    el("usage-summary").textContent = `Today: ${today.toFixed(1)} of ${limit.toLocaleString("en")} neurons (estimated)` +
      `, ${keys.length} key${keys.length === 1 ? "" : "s"}.`;
  }

  el("usage-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    el("usage-error").textContent = "";
    const key = el("key").value.trim();
    if (!key) { el("usage-error").textContent = "Paste an API key at the top first."; return; }
    el("usage-send").disabled = true;
    try {
      const response = await fetch(`/v1/usage?days=${el("usage-days").value}`, { headers: { Authorization: "Bearer " + key } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(`${response.status}: ${(body.error && body.error.message) || response.statusText}`);
      draw(body);
    } catch (error) {
      el("usage-error").textContent = error.message;
    } finally {
      el("usage-send").disabled = false;
    }
  });
})();
"""
