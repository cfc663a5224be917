// Test support shared by every package (`@tessera/schemas/testing`): query
// generators and the fixtures reader. Not production code: it lives outside src/.
export * from './arbitrary.ts';
export * from './fixtures.ts';
