/** The tmpl library entry point. */
export * from './protocol/index.ts';
export * from './orchestrator/index.ts';
