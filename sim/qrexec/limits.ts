/** Limits of the simulator's qrexec; each one is enforced while bytes flow. */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes of a frame header: type (1) and big-endian payload length (4). */
export const QREXEC_FRAME_HEADER_LENGTH = 5;
/** Largest data frame (stdin, stdout, stderr); qrexec's own vchan chunks are 64 KiB too. */
export const MAX_QREXEC_DATA_FRAME = 64 * KiB;
/** Largest HELLO (the JSON request) or text frame. */
export const MAX_QREXEC_TEXT_FRAME = 4 * KiB;

/** qrexec-client-vm: "This field is limited to 31 characters" for VM names; @dispvm:NAME adds 8. */
export const MAX_VM_NAME_LENGTH = 31;
export const MAX_TARGET_LENGTH = 8 + MAX_VM_NAME_LENGTH;
/** qrexec's limit on SERVICE+ARG as qrexec-client-vm documents it (63 characters). */
export const MAX_SERVICE_CALL_LENGTH = 63;

/** A policy file larger than this is refused rather than read. */
export const MAX_POLICY_FILE_BYTES = 1 * MiB;
/** Nested !include depth; qrexec itself has no limit and recurses until Python gives up. */
export const MAX_POLICY_INCLUDE_DEPTH = 16;

/** Admin API replies the daemon reads for its own use (system info, disposables). */
export const MAX_ADMIN_REPLY_BYTES = 1 * MiB;

/** Private /tmp of a sandboxed service: Qubes gives a disposable's /tmp a 1 GiB tmpfs. */
export const DEFAULT_SANDBOX_TMP_BYTES = 1024 * MiB;

/** How long a disposable may take to be created and started before the call fails. */
export const DISPOSABLE_START_TIMEOUT_MS = 60_000;
