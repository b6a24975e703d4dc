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
