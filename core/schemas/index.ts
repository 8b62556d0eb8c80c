export * from './common.js';
export * from './deployment.js';
export * from './endpoint.js';
export * from './environment.js';
export * from './model.js';
export * from './project.js';
export * from './secret.js';
export * from './version.js';
