// Worker thread entry: workers start without the parent's loader flags, so
// this plain-JavaScript file registers the TypeScript loader (as the bin
// script does) before loading the worker's code.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
