export * from './auth.js';
export * from './scopes.js';
export * from './messages.js';
export * from './governance.js';
export * from './readstate.js';
export * from './users-log.js';
export * from './events.js';
export * from './polls.js';
