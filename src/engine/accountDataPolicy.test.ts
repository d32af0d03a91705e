import { HANDLED_TYPES, accountDataLabel, isNeverCopied, optionalAccountDataTypes } from "./accountDataPolicy.ts";
import { JOURNAL_EVENT_TYPE } from "./journal.ts";

describe("account data that never moves to the new account", () => {
    // Every row is a type that holds a secret, points at the old account's key backup, or is the engine's own state.
    test.each([
        ["m.secret_storage.default_key", "which secret storage key is the default"],
        ["m.secret_storage.key.3p1Vbc", "a secret storage key description"],
        ["m.cross_signing.master", "encrypted cross-signing master key"],
        ["m.cross_signing.self_signing", "encrypted self-signing key"],
        ["m.cross_signing.user_signing", "encrypted user-signing key"],
        ["m.megolm_backup.v1", "encrypted key backup decryption key"],
        ["m.key_backup", "key storage on/off (MSC4287)"],
        ["m.org.matrix.custom.backup_disabled", "key storage on/off, unstable name"],
        ["org.matrix.msc3814", "encrypted dehydrated device pickle key (matrix-js-sdk's secret name)"],
        ["org.matrix.msc3814.v1", "dehydrated device, other unstable names"],
        ["m.dehydrated_device", "dehydrated device, stable name"],
        ["io.element.msc4140.delayed_events", "delayed events of the old account"],
        [JOURNAL_EVENT_TYPE, "this migration's own journal"],
        ["com.example.secret_notes", "an unknown type calling itself secret"],
        ["org.example.private_key", "an unknown type holding a private key"],
        ["net.example.RecoveryCode", "an unknown type holding a recovery code"],
        // issue 7.14
        [
            "org.matrix.msc3890.local_notification_settings.ABCDEFGH",
            "notification settings of one device of the old account",
        ],
        ["im.vector.analytics", "the old account's analytics id (copying it would link the two accounts)"],
    ])("%s is never copied (%s)", (type) => {
        expect(isNeverCopied(type)).toBe(true);
        expect(optionalAccountDataTypes([type])).toEqual([]);
    });

    test.each([
        "im.vector.web.settings",
        "im.vector.setting.breadcrumbs",
        "io.element.recent_emoji",
        "m.recent_emoji",
        "m.widgets",
        "m.identity_server",
        "m.accepted_terms",
        "im.ponies.user_emotes",
        "org.example.custom",
    ])("%s is an ordinary setting that may be copied", (type) => {
        expect(isNeverCopied(type)).toBe(false);
        expect(optionalAccountDataTypes([type])).toEqual([type]);
    });
});

describe("the opt-in list of settings", () => {
    test("types the engine merges itself (m.direct, m.push_rules, m.ignored_user_list) are not offered", () => {
        for (const type of ["m.direct", "m.push_rules", "m.ignored_user_list", "m.tag", "m.fully_read"])
            expect(HANDLED_TYPES.has(type)).toBe(true);
        expect(optionalAccountDataTypes(["m.direct", "m.push_rules", "m.ignored_user_list", "m.widgets"])).toEqual([
            "m.widgets",
        ]);
    });

    test("per-device session information of the old account is not offered", () => {
        expect(optionalAccountDataTypes(["io.element.matrix_client_information.ABCDEF", "m.widgets"])).toEqual([
            "m.widgets",
        ]);
    });

    test("the list is sorted, whatever order the account data came in", () => {
        expect(optionalAccountDataTypes(["org.example.z", "im.vector.web.settings", "m.widgets"])).toEqual([
            "im.vector.web.settings",
            "m.widgets",
            "org.example.z",
        ]);
    });
});

describe("labels", () => {
    test("known settings have a plain-language label", () => {
        expect(accountDataLabel("im.vector.web.settings")).toBe("Element settings (theme, layout, …)");
        expect(accountDataLabel("m.identity_server")).toBe("Identity server choice");
    });

    test("per-device session information and unknown types are described", () => {
        expect(accountDataLabel("io.element.matrix_client_information.ABCDEF")).toBe(
            "Session information of one device",
        );
        expect(accountDataLabel("org.example.custom")).toBe("Other setting (org.example.custom)");
    });
});
