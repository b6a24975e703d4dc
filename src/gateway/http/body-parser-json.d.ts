/**
 * Types of body-parser's `body-parser/json` entry point: the package exports it on its own (so the
 * gateway need not load the urlencoded parser and its dependencies at start), but
 * `@types/body-parser` describes only the package root.
 */
declare module 'body-parser/json' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { OptionsJson } from 'body-parser';

  export default function json(options?: OptionsJson): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
}
