/**
 * Which account data may move to the new account. The deny list lives here and only here: secrets and key-backup
 * control belong to one account, and copying them would hand the new account keys it cannot use (or worse, point its
 * clients at the old account's backup).
 */
import { JOURNAL_EVENT_TYPE } from "./journal.ts";

const NEVER_COPY_PREFIXES = [
    "m.secret_storage.",
    "m.cross_signing.",
    "m.megolm_backup.",
    "m.key_backup",
    "org.matrix.msc3814",
    "m.dehydrated_device",
    // Bound to one device of the old account (MSC3890): meaningless, even misleading, for another account.
    "org.matrix.msc3890.local_notification_settings.",
];
const NEVER_COPY_TYPES = new Set([
    "m.org.matrix.custom.backup_disabled",
    "io.element.msc4140.delayed_events",
    // Holds the account's analytics id: copying it would link the two accounts in analytics.
    "im.vector.analytics",
    JOURNAL_EVENT_TYPE,
]);

/** Types the engine carries over by its own rules (merged, not copied), so they never show in the opt-in list. */
export const HANDLED_TYPES = new Set(["m.direct", "m.push_rules", "m.ignored_user_list", "m.tag", "m.fully_read"]);

export function isNeverCopied(type: string): boolean {
    if (NEVER_COPY_TYPES.has(type)) return true;
    if (NEVER_COPY_PREFIXES.some((p) => type.startsWith(p))) return true;
    // Unknown namespaces that call themselves secret are treated as secret.
    return /secret|private_key|recovery/i.test(type);
}

const LABELS: Record<string, string> = {
    "im.vector.web.settings": "Element settings (theme, layout, …)",
    "im.vector.setting.breadcrumbs": "Recently viewed rooms",
    "im.vector.setting.integration_provisioning": "Integration manager permission",
    "io.element.recent_emoji": "Recently used emoji",
    "im.ponies.user_emotes": "Personal custom emotes",
    "im.ponies.emote_rooms": "Emote packs from rooms",
    "m.widgets": "Personal widgets (sticker picker, …)",
    "m.identity_server": "Identity server choice",
    "m.accepted_terms": "Accepted terms of service",
    "io.element.matrix_client_information": "Client information sharing",
    "m.call": "Call settings",
};

/** A plain-language name for an account data type, for the opt-in list. */
export function accountDataLabel(type: string): string {
    if (LABELS[type]) return LABELS[type];
    if (type.startsWith("io.element.matrix_client_information.")) return "Session information of one device";
    return `Other setting (${type})`;
}

/** A plain-language name for a room-level account data type (tags are always carried; these are opt-in). */
export function roomAccountDataLabel(type: string, rooms: number): string {
    return `Room setting (${type}) in ${rooms} room${rooms === 1 ? "" : "s"}`;
}

/** Global account data types offered as opt-in copies, in a stable order. */
export function optionalAccountDataTypes(types: string[]): string[] {
    return (
        types
            .filter((t) => !isNeverCopied(t) && !HANDLED_TYPES.has(t))
            // Per-device entries describe the old account's sessions; they mean nothing for the new account.
            .filter((t) => !t.startsWith("io.element.matrix_client_information."))
            .sort()
    );
}
