export * from './auth.js';
export * from './scopes.js';
export * from './messages.js';
