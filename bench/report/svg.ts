/**
 * `docs/benchmarks.svg`: requests/s against concurrent connections for each target, both axes
 * logarithmic (the ceiling is an order of magnitude above the MCP servers). Solid lines are
 * `tools/call`, dashed ones `tools/list`. Plain SVG text: no plotting dependency.
 */
import type { Method, Target } from '../suites/throughput.js';
import type { BenchResults } from './results.js';

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 70, right: 200, top: 48, bottom: 50 };

const SERIES: ReadonlyArray<{ target: Target; label: string; color: string }> = [
  { target: 'gateway', label: 'gateway /mcp/time', color: '#1f6feb' },
  { target: 'gateway-stateless', label: 'gateway, stateless route', color: '#8957e5' },
  { target: 'minimal', label: 'minimal SDK server', color: '#d1242f' },
  { target: 'minimal-node', label: 'minimal, on node:http', color: '#bf8700' },
  { target: 'minimal-v2', label: 'SDK v2 ref., 2026-07-28', color: '#0e8a9a' },
  { target: 'ceiling', label: 'raw node:http ceiling', color: '#1a7f37' },
];
const DASH: Record<Method, string> = { 'tools/call': '', 'tools/list': '6 4' };

export function renderSvg(results: BenchResults): string {
  const cells = results.throughput ?? [];
  const xs = [...new Set(cells.map((c) => c.connections))].sort((a, b) => a - b);
  const values = cells.map((c) => c.result.rps).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMin = Math.log10(Math.min(...xs));
  const xSpan = Math.max(1e-9, Math.log10(Math.max(...xs)) - xMin);
  const x = (connections: number) => MARGIN.left + ((Math.log10(connections) - xMin) / xSpan) * plotW;
  const y = (value: number) =>
    MARGIN.top + plotH - ((Math.log10(value) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="15" font-weight="600">Requests/s against concurrent connections (time server)</text>`,
    `<text x="${MARGIN.left}" y="38" fill="#57606a">${escape(`${results.info.date.slice(0, 10)}, ${results.info.cpu} (${results.info.cores} cores), Node ${results.info.node}`)}</text>`,
  );
  // Grid and y labels: 1, 2, 5 per decade.
  for (let decade = yMin; decade < yMax * 1.001; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step;
      if (value > yMax * 1.001) break;
      const py = y(value).toFixed(1);
      parts.push(
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${py}" y2="${py}" stroke="${step === 1 ? '#d0d7de' : '#eef1f4'}"/>`,
      );
      parts.push(
        `<text x="${MARGIN.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${value.toLocaleString('en-US')}</text>`,
      );
    }
  }
  for (const connections of xs) {
    const px = x(connections).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#eef1f4"/>`);
    parts.push(`<text x="${px}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" fill="#57606a">${connections}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#8c959f"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">concurrent connections</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">requests/s (log scale)</text>`,
  );

  let legendY = MARGIN.top + 8;
  for (const { target, label, color } of SERIES) {
    for (const method of ['tools/call', 'tools/list'] as const) {
      const points = cells
        .filter((c) => c.target === target && c.method === method)
        .sort((a, b) => a.connections - b.connections)
        .map((c) => [x(c.connections), y(c.result.rps)] as const);
      if (points.length === 0) continue;
      const dash = DASH[method] ? ` stroke-dasharray="${DASH[method]}"` : '';
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [px, py] of points) parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const lx = MARGIN.left + plotW + 16;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle">${escape(label)}</text>`);
    legendY += 20;
  }
  const lx = MARGIN.left + plotW + 16;
  legendY += 8;
  parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="#57606a" stroke-width="2"/>`);
  parts.push(`<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle">tools/call</text>`);
  legendY += 20;
  parts.push(
    `<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="#57606a" stroke-width="2" stroke-dasharray="${DASH['tools/list']}"/>`,
  );
  parts.push(`<text x="${lx + 30}" y="${legendY}" dominant-baseline="middle">tools/list</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
