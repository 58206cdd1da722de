export * from './prompt-keys.js';
export type * from './types.js';
export * from './machine.js';
