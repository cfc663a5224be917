// Test support shared by every package (`@tessera/schemas/testing`): query
// generators, the fixtures reader and configurations with their schemas'
// defaults. Not production code: it lives outside src/.
export * from './arbitrary.ts';
export * from './fixtures.ts';
export * from './config.ts';
