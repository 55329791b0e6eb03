// index.ts — the library's public entry point.
export * from './backend/index.js';
