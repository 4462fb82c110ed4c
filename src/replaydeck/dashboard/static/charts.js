// Inline SVG pictures: the per-request timing waterfall and the session chart.
// Drawn as strings of SVG (numbers and escaped text only), no chart library.
import { escapeHtml, ms } from "./util.js";

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

// chunks: [{c, d}] with d = ms since the previous chunk (the first: since the request).
export function timeline(chunks) {
  let t = 0;
  return chunks.map((c, i) => { t += Number(c.d) || 0; return { i, at: t, gap: Number(c.d) || 0, size: String(c.c || "").length }; });
}

export function waterfall(detail) {
  const chunks = detail.chunks || [];
  const points = timeline(chunks);
  const ttfb = points.length ? points[0].at : detail.ttfb_ms || 0;
  const last = points.length ? points[points.length - 1].at : 0;
  const total = Math.max(detail.duration_ms || 0, last, 1);
  const W = 860, L = 128, R = 24, H = 176, plotW = W - L - R;
  const x = (t) => L + (t / niceMax(total)) * plotW;
  const max = niceMax(total);
  const gaps = points.slice(1).map((p) => p.gap);
  const maxGap = Math.max(1, ...gaps);
  let s = `<svg class="waterfall" viewBox="0 0 ${W} ${H}" role="img" aria-label="timing waterfall">`;
  // grid + axis
  for (let k = 0; k <= 5; k++) {
    const t = (max / 5) * k, gx = x(t);
    s += `<line class="grid" x1="${gx}" x2="${gx}" y1="8" y2="${H - 22}"/>`;
    s += `<text class="axis" x="${gx}" y="${H - 6}" text-anchor="middle">${k === 0 ? "0" : escapeHtml(ms(t))}</text>`;
  }
  const lanes = [["waiting (TTFB)", 20], ["streaming", 58], ["gap per chunk", 96]];
  for (const [label, y] of lanes) s += `<text class="lane" x="${L - 10}" y="${y + 13}" text-anchor="end">${label}</text>`;
  // TTFB bar
  s += `<rect class="w-wait" x="${L}" y="20" width="${Math.max(2, x(ttfb) - L)}" height="18" rx="3"><title>time to first byte ${escapeHtml(ms(ttfb))}</title></rect>`;
  s += `<text class="w-label" x="${Math.min(x(ttfb) + 6, W - 120)}" y="33">${escapeHtml(ms(ttfb))}</text>`;
  // streaming span with a tick per chunk
  if (points.length) {
    s += `<rect class="w-stream" x="${x(ttfb)}" y="58" width="${Math.max(2, x(last) - x(ttfb))}" height="18" rx="3"><title>${points.length} chunks over ${escapeHtml(ms(last - ttfb))}</title></rect>`;
    const step = Math.max(1, Math.floor(points.length / 400));
    for (let j = 0; j < points.length; j += step) {
      const p = points[j];
      s += `<line class="w-tick" x1="${x(p.at)}" x2="${x(p.at)}" y1="56" y2="78"/>`;
    }
  }
  // gap bars: how long each chunk waited after the previous one (stalls stand out)
  const base = 136;
  for (let j = 1; j < points.length; j++) {
    const p = points[j];
    const h = Math.max(1, (p.gap / maxGap) * 40);
    const cls = p.gap > 4 * (quantile([...gaps].sort((a, b) => a - b), 0.5) || 1) && p.gap > 50 ? "w-gap stall" : "w-gap";
    s += `<rect class="${cls}" x="${x(p.at) - 1}" y="${base - h}" width="2.5" height="${h}"><title>chunk ${j + 1}: +${escapeHtml(ms(p.gap))} at ${escapeHtml(ms(p.at))}</title></rect>`;
  }
  if (detail.duration_ms && detail.duration_ms > last + 1) {
    s += `<line class="w-end" x1="${x(detail.duration_ms)}" x2="${x(detail.duration_ms)}" y1="12" y2="${H - 22}"><title>response complete ${escapeHtml(ms(detail.duration_ms))}</title></line>`;
  }
  s += `</svg>`;
  const sorted = [...gaps].sort((a, b) => a - b);
  const out = (detail.summary && detail.summary.usage && (detail.summary.usage.completion_tokens ?? detail.summary.usage.output_tokens)) || null;
  const genMs = last - ttfb;
  const stats = [
    ["time to first byte", ms(ttfb)],
    ["total", ms(detail.duration_ms ?? last)],
    ["chunks", String(points.length)],
    ["median gap", sorted.length ? ms(quantile(sorted, 0.5)) : "–"],
    ["longest gap", sorted.length ? ms(sorted[sorted.length - 1]) : "–"],
    ["output speed", out && genMs > 0 ? `${(out / (genMs / 1000)).toFixed(1)} tok/s` : "–"],
  ];
  return { svg: s, stats };
}

// rows: history/live rows (any order). Bars = latency per request (TTFB part darker),
// line = output tokens per second.
export function sessionChart(rows, selectedId) {
  const done = rows.filter((r) => r.duration_ms != null && r.ts).sort((a, b) => a.ts - b.ts).slice(-120);
  const W = 860, H = 92, L = 44, R = 44, top = 10, bottom = 16, plotH = H - top - bottom;
  if (!done.length) {
    return `<svg class="session" viewBox="0 0 ${W} ${H}"><text class="axis" x="${W / 2}" y="${H / 2}" text-anchor="middle">latency and throughput appear here as requests complete</text></svg>`;
  }
  const durs = done.map((r) => r.duration_ms).sort((a, b) => a - b);
  const maxD = niceMax(quantile(durs, 0.98) || 1);
  const bw = Math.min(18, (W - L - R) / done.length);
  const speeds = done.map((r) => {
    const gen = (r.duration_ms || 0) - (r.ttfb_ms || 0);
    // only generation long enough to measure: a 3-token reply in 5 ms is not a speed
    return r.tokens_out && gen >= 100 ? r.tokens_out / (gen / 1000) : null;
  });
  const maxS = niceMax(Math.max(1, ...speeds.filter((v) => v !== null)));
  let s = `<svg class="session" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency and throughput over the session">`;
  s += `<line class="grid" x1="${L}" x2="${W - R}" y1="${top}" y2="${top}"/><line class="grid" x1="${L}" x2="${W - R}" y1="${top + plotH}" y2="${top + plotH}"/>`;
  s += `<text class="axis" x="${L - 4}" y="${top + 4}" text-anchor="end">${escapeHtml(ms(maxD))}</text>`;
  s += `<text class="axis" x="${W - R + 4}" y="${top + 4}">${Math.round(maxS)} t/s</text>`;
  let line = "";
  done.forEach((r, i) => {
    const bx = L + i * bw;
    const h = Math.max(1, Math.min(1, r.duration_ms / maxD) * plotH);
    const th = Math.min(h, Math.max(0, ((r.ttfb_ms || 0) / maxD) * plotH));
    const cls = r.state === "error" ? "b-err" : r.source === "tape" ? "b-tape" : "b-up";
    const sel = r.id === selectedId ? " sel" : "";
    s += `<g class="bar${sel}" data-id="${escapeHtml(r.id)}"><rect class="${cls}" x="${bx + 1}" y="${top + plotH - h}" width="${Math.max(1, bw - 2)}" height="${h}"/>`;
    s += `<rect class="b-ttfb" x="${bx + 1}" y="${top + plotH - th}" width="${Math.max(1, bw - 2)}" height="${th}"/>`;
    s += `<title>${escapeHtml(r.model || "")} ${escapeHtml(ms(r.duration_ms))} (ttfb ${escapeHtml(ms(r.ttfb_ms))})</title></g>`;
    const v = speeds[i];
    if (v !== null) line += `${line ? "L" : "M"}${bx + bw / 2},${top + plotH - (v / maxS) * plotH} `;
  });
  if (line) s += `<path class="speed" d="${line}"/>`;
  s += `<text class="axis" x="${L}" y="${H - 3}">p50 ${escapeHtml(ms(quantile(durs, 0.5)))} · p95 ${escapeHtml(ms(quantile(durs, 0.95)))} · ${done.length} requests · bars: latency (darker: time to first byte) · line: output tokens/s</text>`;
  s += `</svg>`;
  return s;
}
