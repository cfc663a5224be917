// Test support shared by every package: query generators and fixtures.
export * from './arbitrary.ts';
export * from './fixtures.ts';
