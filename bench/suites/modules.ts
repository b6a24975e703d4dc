/** Absolute `module:` paths of the shipped servers, for the gateway.yaml files the benchmarks write. */
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/child.js';

export const TIME_MODULE = path.join(PROJECT_ROOT, 'servers', 'time');
export const WEATHER_MODULE = path.join(PROJECT_ROOT, 'servers', 'weather');
