/** The README's code blocks, for tests that run its examples as written. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './project.js';

const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The first fenced block of `language` after `marker`, un-indented. */
export function readmeBlockAfter(marker: string, language: string): string {
  const start = readme.indexOf(marker);
  assert.ok(start >= 0, `the README has "${marker}"`);
  const match = new RegExp(`( *)\`\`\`${language}\\n([\\s\\S]*?)\\n *\`\`\``).exec(readme.slice(start));
  assert.ok(match, `a ${language} block after "${marker}"`);
  const indent = match[1]!.length;
  return match[2]!
    .split('\n')
    .map((line) => line.slice(indent))
    .join('\n');
}

/** The README without its fenced blocks (a `#` there is a comment, not a heading). */
function readmeProse(text = readme): string {
  return text.replace(/^( *)```[\s\S]*?^\1```/gm, '');
}

/** A Markdown file's `#…` anchors as GitHub makes them from its headings (`-1`, `-2` for repeats). */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of readmeProse(text).matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const repeats = seen.get(slug) ?? 0;
    seen.set(slug, repeats + 1);
    anchors.add(repeats === 0 ? slug : `${slug}-${repeats}`);
  }
  return anchors;
}

/** Every Markdown link target of the README's prose (`#anchor`, `docs/x.md#anchor`, `https://…`). */
export function readmeLinks(): string[] {
  return [...readmeProse().matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
}

/** The README's text under `heading` (`## Architecture`), up to the next heading of its level or higher. */
export function readmeSection(heading: string): string {
  const level = /^#+/.exec(heading)![0].length;
  const lines = readme.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `the README has "${heading}"`);
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (/^ *```/.test(lines[end]!)) fenced = !fenced;
    const match = /^(#+) /.exec(lines[end]!);
    if (!fenced && match && match[1]!.length <= level) break;
  }
  return lines.slice(start + 1, end).join('\n');
}
