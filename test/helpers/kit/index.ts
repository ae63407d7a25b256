/**
 * The test kit for everything that runs tmpl against the simulated Qubes: run.ts (run tmpl,
 * on a pseudo-terminal or in a process group; `--json`; expectSuccess/expectFailure with the exact
 * exit status and error code), qubes-view.ts (the simulated Qubes as dom0 sees it),
 * use-scenario.ts (one simulated Qubes for a file's tests), templates.ts (template builders,
 * planted templates), services.ts (the VMs' qrexec services: lying workers,
 * qubes.PostInstall) and attack.ts (defineAttack and expectUntouched, for test/security/).
 */
export * from './run.ts';
export * from './qubes-view.ts';
export * from './templates.ts';
export * from './services.ts';
export * from './attack.ts';
export * from './use-scenario.ts';
