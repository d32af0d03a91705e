/**
 * One error class for everything in src/keys, with a stable `code` so the UI can pick a translated message
 * while `message` stays a clear English sentence for logs and the CLI.
 */
export type KeysErrorCode =
    | "recovery_key_malformed"
    | "recovery_key_wrong_length"
    | "recovery_key_wrong_prefix"
    | "recovery_key_wrong_parity"
    | "recovery_key_wrong"
    /** The account's backup is not the one its recovery key (secret storage) vouches for. */
    | "backup_key_mismatch"
    | "backup_missing"
    | "backup_replaced"
    | "backup_exists"
    | "recovery_needs_own_session"
    | "approval_needed"
    | "approval_refused"
    | "secret_storage_exists"
    | "cross_signing_exists"
    | "secret_storage_unsupported_algorithm"
    | "secret_storage_key_uncheckable"
    | "secret_storage_secret_missing"
    | "secret_storage_bad_mac"
    | "secret_storage_malformed"
    | "backup_bad_public_key"
    | "backup_bad_private_key"
    | "backup_bad_mac"
    | "backup_undecryptable"
    | "backup_malformed"
    | "key_file_bad_argument";

export class KeysError extends Error {
    override name = "KeysError";
    constructor(
        public readonly code: KeysErrorCode,
        message: string,
        options?: { cause?: unknown },
    ) {
        super(message, options);
    }
}
