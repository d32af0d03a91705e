/**
 * The sign-in methods the new account's server offers, in the server's order — the recommended one first: OAuth 2.0
 * (and, when offered, a code to approve on another device), single sign-on with each identity provider, the password;
 * an access token stays under "Advanced". A typed password or token leaves only with its submit (`SecretForm`).
 * Buttons that open the server's page in a popup say so with an icon.
 */
import React, { useId } from "react";
import { Alert, Button, Heading, Separator, Text } from "@vector-im/compound-web";
import DevicesIcon from "@vector-im/compound-design-tokens/assets/web/icons/devices";
import PopOutIcon from "@vector-im/compound-design-tokens/assets/web/icons/pop-out";

import type { Translate } from "../i18n/index.ts";
import type { SignInChoice } from "./MigrationController.ts";
import type { RuntimeError, SignInMethod, SignInOffer } from "./runtime.ts";
import { SecretForm } from "./SecretForm.tsx";

export interface SignInMethodChoiceProps {
    t: Translate;
    offer: SignInOffer;
    busy: boolean;
    /** An error about the password (e.g. a wrong one), shown under its field. */
    passwordError?: RuntimeError;
    onChoose(choice: SignInChoice): void;
}

function serverOf(userId: string): string {
    return userId.slice(userId.indexOf(":") + 1);
}

/** One offered method; `primary` for the server's recommendation. */
function Method({
    t,
    method,
    server,
    primary,
    busy,
    passwordError,
    onChoose,
}: {
    t: Translate;
    method: SignInMethod;
    server: string;
    primary: boolean;
    busy: boolean;
    passwordError?: RuntimeError;
    onChoose(choice: SignInChoice): void;
}): React.JSX.Element | null {
    const kind = primary ? "primary" : "secondary";
    switch (method.kind) {
        case "oauth":
            return (
                <div className="mx_AccountMigration_stack">
                    <Button
                        kind={kind}
                        size="md"
                        Icon={PopOutIcon}
                        disabled={busy}
                        onClick={() => onChoose({ method: "oauth" })}
                    >
                        {t("signin|oauth", { server })}
                    </Button>
                    {method.deviceGrant && (
                        <Button
                            kind="secondary"
                            size="md"
                            Icon={DevicesIcon}
                            disabled={busy}
                            onClick={() => onChoose({ method: "device" })}
                        >
                            {t("signin|device")}
                        </Button>
                    )}
                </div>
            );
        case "sso":
            return (
                <div className="mx_AccountMigration_stack">
                    {method.providers.length === 0 ? (
                        <Button
                            kind={kind}
                            size="md"
                            Icon={PopOutIcon}
                            disabled={busy}
                            onClick={() => onChoose({ method: "sso" })}
                        >
                            {t("signin|sso", { server })}
                        </Button>
                    ) : (
                        method.providers.map((idp) => (
                            <Button
                                key={idp.id}
                                kind={kind}
                                size="md"
                                Icon={PopOutIcon}
                                disabled={busy}
                                onClick={() => onChoose({ method: "sso", idpId: idp.id })}
                            >
                                {t("signin|sso_provider", { provider: idp.name })}
                            </Button>
                        ))
                    )}
                </div>
            );
        case "password":
            return (
                <SecretForm
                    t={t}
                    name="newPassword"
                    label={t("signin|password")}
                    help={t("signin|password_note")}
                    error={passwordError}
                    busy={busy}
                    submitKind={kind}
                    submitLabel={busy ? t("signin|busy") : t("signin|submit")}
                    onSubmit={(password) => onChoose({ method: "password", password })}
                />
            );
        default:
            return null;
    }
}

function AccessToken({
    t,
    busy,
    open,
    onChoose,
}: {
    t: Translate;
    busy: boolean;
    open: boolean;
    onChoose(choice: SignInChoice): void;
}): React.JSX.Element {
    return (
        <details className="mx_AccountMigration_advanced" open={open}>
            <summary>{t("signin|advanced")}</summary>
            <SecretForm
                t={t}
                name="newAccessToken"
                label={t("signin|access_token")}
                help={t("signin|access_token_note")}
                busy={busy}
                trim
                submitKind="secondary"
                submitLabel={t("signin|access_token_submit")}
                onSubmit={(accessToken) => onChoose({ method: "token", accessToken })}
            />
        </details>
    );
}

export function SignInMethodChoice({
    t,
    offer,
    busy,
    passwordError,
    onChoose,
}: SignInMethodChoiceProps): React.JSX.Element {
    const headingId = useId();
    const server = serverOf(offer.userId);
    const usable = offer.methods.filter((m) => m.kind !== "token");
    return (
        <section
            className="mx_AccountMigration_stack"
            aria-labelledby={headingId}
            data-testid="migration-sign-in-methods"
        >
            <Heading as="h3" size="sm" weight="semibold" id={headingId} tabIndex={-1} data-focus-start>
                {t("signin|methods_label")}
            </Heading>
            {usable.length === 0 && <Alert type="info" title={t("signin|nothing_offered", { server })} />}
            {usable.length > 1 && (
                <Text size="sm" className="mx_AccountMigration_secondary">
                    {t("signin|recommended")}
                </Text>
            )}
            {usable.map((method, index) => (
                <React.Fragment key={method.kind}>
                    {/* The recommendation stands apart from the other ways. */}
                    {index === 1 && <Separator kind="section" />}
                    <Method
                        t={t}
                        method={method}
                        server={server}
                        primary={index === 0}
                        busy={busy}
                        passwordError={passwordError}
                        onChoose={onChoose}
                    />
                </React.Fragment>
            ))}
            {/* Open when it is the only way. */}
            <AccessToken t={t} busy={busy} open={usable.length === 0} onChoose={onChoose} />
        </section>
    );
}
