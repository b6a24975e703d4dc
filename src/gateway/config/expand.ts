/**
 * `${VAR}` expansion in gateway.yaml values, and what an expanded value becomes in a field that
 * is not a string. The rules are few so they can be stated exactly in the README:
 *
 * - `${NAME}` and `${NAME:-default}` expand (NAME: a letter or `_`, then letters, digits, `_`);
 *   a default is plain text, up to the first `}`.
 * - `$$` is a literal `$`, in defaults too.
 * - Any other `${` (unclosed, nested in a default, no name, another operator) is an error, and so
 *   is a bare `$NAME`: a shell would expand it, the gateway would send it as written.
 * - Any other `$` is itself (`$5`, `5$`, `$-`).
 * - A value from the environment is inserted as it is: it is never expanded again.
 */
import { z } from 'zod';

/** The outcome of expanding one value: its text, or the first problem in it. */
export type Expansion =
  | { ok: true; value: string; references: readonly string[] }
  | { ok: false; problem: 'unset'; name: string }
  | { ok: false; problem: 'malformed'; message: string };

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const LITERAL_HINT = '(or $${ for a literal ${)';

/**
 * Expands `${NAME}` and `${NAME:-default}` in `text` from `env`; an empty variable counts as unset.
 *
 * @example expandVariables('Bearer ${TOKEN}', { TOKEN: 't' }) // { ok: true, value: 'Bearer t', references: ['TOKEN'] }
 */
export function expandVariables(text: string, env: NodeJS.ProcessEnv): Expansion {
  let value = '';
  const references: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      value += text.slice(i);
      break;
    }
    value += text.slice(i, dollar);
    const literal = literalDollar(text, dollar);
    if (literal.kind === 'text') {
      value += literal.text;
      i = literal.end;
      continue;
    }
    if (literal.kind === 'bare') return bare(literal.name);
    // `${`: a reference, or an error.
    const name = nameAt(text, dollar + 2);
    if (name === undefined) return notAReference(text.slice(dollar, dollar + 3));
    let end = dollar + 2 + name.length;
    let fallback: string | undefined;
    if (text.startsWith(':-', end)) {
      fallback = '';
      end += 2;
      for (;;) {
        if (end >= text.length) return unclosed(text.slice(dollar));
        if (text[end] === '}') break;
        const inner = literalDollar(text, end);
        if (inner.kind === 'bare') return bare(inner.name);
        if (inner.kind === 'reference') {
          return {
            ok: false,
            problem: 'malformed',
            message: `"${text.slice(dollar, end + 2)}" nests a reference in a default, which is not supported: a default is plain text`,
          };
        }
        fallback += inner.text;
        end = inner.end;
      }
    } else if (end >= text.length) {
      return unclosed(text.slice(dollar));
    } else if (text[end] !== '}') {
      return notAReference(text.slice(dollar, end + 1));
    }
    references.push(name);
    const set = env[name];
    if (set !== undefined && set !== '') value += set;
    else if (fallback !== undefined) value += fallback;
    else return { ok: false, problem: 'unset', name };
    i = end + 1;
  }
  return { ok: true, value, references };
}

/** What the text at `at` (a `$`, or any other character) stands for. */
function literalDollar(
  text: string,
  at: number,
): { kind: 'text'; text: string; end: number } | { kind: 'bare'; name: string } | { kind: 'reference' } {
  if (text[at] !== '$') return { kind: 'text', text: text[at]!, end: at + 1 };
  const next = text[at + 1];
  if (next === '$') return { kind: 'text', text: '$', end: at + 2 };
  if (next === '{') return { kind: 'reference' };
  const name = nameAt(text, at + 1);
  if (name !== undefined) return { kind: 'bare', name };
  return { kind: 'text', text: '$', end: at + 1 };
}

function nameAt(text: string, at: number): string | undefined {
  NAME.lastIndex = at;
  return NAME.exec(text)?.[0];
}

function bare(name: string): Expansion {
  return {
    ok: false,
    problem: 'malformed',
    message: `"$${name}" is not expanded: write \${${name}} for the environment variable, or $$${name} for a literal $`,
  };
}

function unclosed(reference: string): Expansion {
  return { ok: false, problem: 'malformed', message: `"${reference}" is not closed: write \${NAME} or \${NAME:-default} ${LITERAL_HINT}` };
}

function notAReference(start: string): Expansion {
  return {
    ok: false,
    problem: 'malformed',
    message: `"${start}" is not a variable reference: write \${NAME} or \${NAME:-default}, NAME being letters, digits and _ ${LITERAL_HINT}`,
  };
}

/** The types a field takes, as JSON Schema names them (`integer` counts as `number`). */
export type FieldTypes = ReadonlySet<string> | 'any';

/** Decimal numbers only: `0x10`, `1e3` or `" 4"` from an app setting is more likely a mistake than meant. */
const numberText = z
  .string()
  .regex(/^[+-]?\d+(\.\d+)?$/)
  .pipe(z.coerce.number());
/** `true` or `false` in any case, as YAML 1.2 reads them; not `yes`, `on` or `1`. */
const booleanText = z.stringbool({ truthy: ['true'], falsy: ['false'] });

/**
 * What an expanded value becomes in a field that takes `types`: a number where the field takes
 * one and the text is a decimal number (so `${N:-4}` and a duration's `${MS}` are numbers), a
 * boolean where it takes one and the text is `true` or `false`, else the text itself. `undefined`
 * for text in a field that takes a number or a boolean and no string.
 */
export function convertExpanded(text: string, types: FieldTypes): string | number | boolean | undefined {
  if (types === 'any') return text;
  if (types.has('number')) {
    const parsed = numberText.safeParse(text);
    if (parsed.success) return parsed.data;
  }
  if (types.has('boolean')) {
    const parsed = booleanText.safeParse(text);
    if (parsed.success) return parsed.data;
  }
  // A field that takes no scalar of these (an object that a preprocess also reads from a string,
  // like `auth: none`) gets the text, and the schema judges it.
  return types.has('string') || !(types.has('number') || types.has('boolean')) ? text : undefined;
}

/** "a number", "true or false", or both, for a value {@link convertExpanded} refused. */
export function describeTypes(types: ReadonlySet<string>): string {
  return [types.has('number') && 'a number', types.has('boolean') && 'true or false'].filter(Boolean).join(' or ');
}
