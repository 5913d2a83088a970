/**
 * Heard latency against concurrency as a self-contained SVG: p50, p90 and p99 per step (log-2
 * axis of calls), the budget if one was set, and the unanswered turns marked. No script, no
 * external reference: it opens in a browser and renders on GitHub.
 */
import type { LoadTestResult } from './types.js';

const W = 640;
const H = 360;
const PAD = { left: 64, right: 110, top: 40, bottom: 48 };
const SERIES = [
  { key: 'p50', color: '#2b6cb0' },
  { key: 'p90', color: '#dd6b20' },
  { key: 'p99', color: '#c53030' },
] as const;

const esc = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** A step of about 1, 2 or 5 × 10^k giving at most `n` ticks up to `max`. */
function niceStep(max: number, n: number): number {
  const raw = max / n;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
}

export function renderPlot(result: LoadTestResult, budgetP90Ms?: number): string {
  const steps = result.steps.filter((s) => s.heardMs);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const callsMax = Math.max(2, ...result.steps.map((s) => s.calls));
  const yMaxRaw = Math.max(100, budgetP90Ms ?? 0, ...steps.map((s) => s.heardMs!.p99));
  const yStep = niceStep(yMaxRaw, 6);
  const yMax = Math.ceil(yMaxRaw / yStep) * yStep;
  const x = (calls: number) => PAD.left + (Math.log2(calls) / Math.log2(callsMax)) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${esc(`Heard latency vs concurrent calls: agent "${result.agentName}"`)}</text>`,
    `<text x="${PAD.left}" y="34" font-size="11" fill="#555">${esc(`${result.machine.cores} cores, ${result.machine.cpu}; ${new Date(result.startedAt).toISOString().slice(0, 16)}Z`)}</text>`,
  );
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(
      `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>`,
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  const ticks = [...new Set(result.steps.map((s) => s.calls))].sort((a, b) => a - b);
  for (const calls of ticks) {
    out.push(
      `<text x="${x(calls)}" y="${PAD.top + plotH + 16}" text-anchor="middle">${calls}</text>`,
    );
  }
  out.push(
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#333"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${H - 10}" text-anchor="middle">concurrent calls</text>`,
    `<text x="16" y="${PAD.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${PAD.top + plotH / 2})">heard latency (ms)</text>`,
  );
  if (budgetP90Ms !== undefined) {
    out.push(
      `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${y(budgetP90Ms)}" y2="${y(budgetP90Ms)}" stroke="#718096" stroke-dasharray="6 4"/>`,
      `<text x="${PAD.left + plotW + 6}" y="${y(budgetP90Ms) + 4}" fill="#718096">p90 budget</text>`,
    );
  }
  SERIES.forEach(({ key, color }, i) => {
    const points = steps.map((s) => `${x(s.calls).toFixed(1)},${y(s.heardMs![key]).toFixed(1)}`);
    if (points.length > 1)
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`,
      );
    for (const p of points) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${color}"/>`);
    }
    out.push(
      `<rect x="${PAD.left + plotW + 8}" y="${PAD.top + i * 18}" width="12" height="3" fill="${color}"/>`,
      `<text x="${PAD.left + plotW + 26}" y="${PAD.top + i * 18 + 5}">heard ${key}</text>`,
    );
  });
  for (const s of result.steps) {
    const failed = s.unanswered + s.late + s.callsFailed;
    if (failed > 0) {
      out.push(
        `<text x="${x(s.calls)}" y="${PAD.top + plotH - 6}" text-anchor="middle" fill="#c53030" font-size="10">${failed} failed</text>`,
      );
    }
  }
  out.push('</svg>', '');
  return out.join('\n');
}
