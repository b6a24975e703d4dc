/** Markdown tables whose columns line up in a terminal too. */

export type Align = 'left' | 'right';

/**
 * `align` per column (left by default), or `'numbers'`: the first column names the row, the others
 * are numbers, right-aligned.
 */
export function table(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  columns: readonly Align[] | 'numbers' = [],
): string {
  const align = columns === 'numbers' ? header.map((_, i): Align => (i === 0 ? 'left' : 'right')) : columns;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Requests per second, whole. */
export const rps = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');

/** Milliseconds: two decimals below 10, one below 100, none above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value).toString();
}

/** A difference in ms with its sign: `+0.21`, `-0.03`. */
export const signedMs = (value: number) => (Number.isFinite(value) ? `${value < 0 ? '-' : '+'}${ms(Math.abs(value))}` : '–');

/** A ratio such as `1.04x`. */
export const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '–');

export const mib = (kib: number) => (kib / 1024).toFixed(1);
