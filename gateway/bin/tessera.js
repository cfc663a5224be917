#!/usr/bin/env node
// Runs the TypeScript sources directly, so the workspace bins work right
// after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/tessera.ts');
