/**
 * Preloaded into a gateway process (`NODE_OPTIONS=--import <this file>`, with
 * `RECORD_IMPORTS_FILE` set) to write the URL of every module it loads, one per line, so a test
 * can say which packages a gateway loads to serve a request, and which it leaves for later. The
 * hooks are Node's documented module customization hooks (`module.register`).
 */
import { register } from 'node:module';

register('./record-imports-hooks.js', import.meta.url);
