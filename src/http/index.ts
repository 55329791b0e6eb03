// index.ts — the shared HTTP layer in one import: app factory + errors, bearer auth, static folder, listen/close.
// Used by `annotate serve` and meant for the OpenAI-compatible chat server; it holds no routes of its own.
export { createApp, HttpError, jsonError, readJsonObject, type AppOptions } from './app.js';
export { bearerAuth } from './auth.js';
export { serveFolder, contentTypes } from './static.js';
export { listen, type Listening, type Timeouts, defaultTimeouts } from './listen.js';
export { BodyTooLarge, limitBody } from './body-limit.js';
export { CONTENT_SECURITY_POLICY, guardRequests, hostAllowed, requireJson, securityHeaders, type HostPolicy } from './security.js';
