/**
 * What other folders (sim/, the library entry index.ts) may use of the orchestrator: repository
 * configuration, package verification, and the Admin API client the demo talks to Qubes with.
 */
export {
  DEFAULT_REPO_FILES_GLOB,
  expandRepoFilePaths,
  loadRepoConfig,
  parseRepoFile,
  substituteVariables,
  type RepoDefinition,
  type RepoVariables,
} from './repos/repo-config.ts';
export {
  applyRepoOperations,
  enabledRepos,
  type RepoOperation,
  type RepoOperationKind,
  type RepoSelection,
} from './repos/repo-selection.ts';
export { loadKeyring, MAX_KEYRING_FILE_BYTES } from './verify/keyring.ts';
export {
  verifyPackageFile,
  verifyPackageStream,
  type PackageVerdict,
  type VerifyPackageOptions,
} from './verify/package-file.ts';
export { AdminClient } from './qubes/admin-client.ts';
export { createTransport } from './qubes/admin-transport.ts';
export { resolveQubesEnvironment, type QubesEnvironment } from './qubes/environment.ts';
