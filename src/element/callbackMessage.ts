/** The message the callback page sends to the page that opened the sign-in popup (shared by both sides). */
export const CALLBACK_MESSAGE_TYPE = "io.github.matrix_account_migration.sign_in_callback";
